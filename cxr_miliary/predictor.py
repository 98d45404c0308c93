"""``Predictor``: a model bundle -> calibrated probability, map, distribution, knowledge.

The Predictor holds a bundle's network (for Grad-CAM), its card and a runtime
(:mod:`cxr_miliary.inference.runtime`) that computes the logits. It never builds other
Predictors and changes no process-wide setting except the torch thread count a caller
asks for. Imports no Lightning (a test checks it in a fresh interpreter) and no pickle.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from .inference.decoding import decode, radiograph
from .inference.fastpath import runtime_for
from .inference.precision import resolve_device
from .inference.prediction import Prediction
from .inference.result import COARSE_MM, UNCERTAINTY_BAND, Result, complete  # noqa: F401 - COARSE_MM and UNCERTAINTY_BAND kept importable here
from .inference.runtime import Backend, Forward
from .inference.scorer import Scorer
from .io import Radiograph
from .metrics import sigmoid
from .models import Card, load_bundle, load_card
from .models.locate import find_default_bundle
from .scoring.options import ScoreOptions
from .transforms import Preprocess, eval_transform

log = logging.getLogger(__name__)


class Predictor:
    """Scores radiographs with a model bundle.

    Args:
        model: The network (kept in fp32 for Grad-CAM), or None to build it from
            ``bundle_dir`` only when something needs it (a torch runtime, the eager
            Grad-CAM path, ``auto``'s first measurement).
        card: The bundle's card (:class:`~cxr_miliary.models.Card` or its dict).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        threads: CPU threads for torch and ONNX Runtime (default: their choice).
        precision: ``"auto"`` (default: the fastest runtime measured to give fp32's
            answers on this machine, see :mod:`cxr_miliary.inference.fastpath`),
            ``"fp32"`` or ``"bf16"``; Grad-CAM always runs in fp32.
        backend: A :class:`~cxr_miliary.inference.runtime.Backend` to use as is, or
            ``"torch"``, ``"onnxruntime"``, ``"onnxruntime-int8"`` (the ONNX file the
            card records).
        bundle_dir: Folder of the bundle (to find ONNX files).
    """

    def __init__(
        self,
        model: Any,
        card: Card | dict[str, Any],
        device: str = "auto",
        threads: int | None = None,
        precision: str = "auto",
        backend: str | Backend = "torch",
        bundle_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if threads is not None and int(threads) < 1:
            raise ValueError("threads must be >= 1")
        self.threads = threads
        self.card = card if isinstance(card, Card) else Card.from_dict(card)
        self.device = resolve_device(device)
        self.bundle_dir = bundle_dir
        if model is None and bundle_dir is None:
            raise ValueError("give the network or the bundle folder it comes from")
        self._model = model
        #: ``"auto"``: maps from the forward pass where the head allows it; ``"eager"``: always
        #: grad-cam's own forward and backward (the reference the fast maps are checked against).
        self.maps = "auto"
        self.preprocess = Preprocess.from_dict(self.card.preprocess)
        self.transform = eval_transform(self.preprocess)
        self.temperature = float(self.card.temperature)
        self.threshold = float(self.card.threshold)
        self.cam_layer_name = self.card.cam_target_layer
        #: How ``auto`` was resolved (the measured candidates), or None.
        self.fastpath: dict[str, Any] | None = None
        #: The training-distribution reference (None when the bundle has none); read
        #: before the runtime is chosen, so a bad reference is refused before any work.
        self.reference = None
        if self.card.reference is not None and bundle_dir is not None:
            from .models.reference import load_reference

            self.reference = load_reference(bundle_dir, self.card.reference)
        if isinstance(backend, Backend):
            self.runtime = backend
        else:
            self.runtime, self.fastpath = runtime_for(
                lambda: self.model, self.card, bundle_dir=bundle_dir, device=self.device, precision=precision, backend=backend, threads=threads
            )
        self.model_info = {"name": self.card.name, "sha256": self.card.weights["sha256"], "runtime": self.runtime.name}
        #: What scoring needs of this model (:class:`~cxr_miliary.inference.scorer.Scorer`).
        self.scorer = Scorer(
            self.runtime,
            self.preprocess,
            self.temperature,
            self.threshold,
            self.reference,
            self.card.domain,
            self.model_info,
            str(self.card.training_data.get("description", "")),
            self.raw_maps,
        )

    @property
    def model(self) -> Any:
        """The fp32 PyTorch network (built from the bundle, sha256 verified, on first use)."""
        if self._model is None:
            model, _ = load_bundle(self.bundle_dir)
            self._model = model
        if not getattr(self, "_model_ready", False):
            import torch

            if self.threads is not None:
                torch.set_num_threads(int(self.threads))  # asked for by the caller
            self._model = self._model.to(self.device).eval()
            self._model_ready = True
        return self._model

    @classmethod
    def load(cls, bundle: str | os.PathLike[str], **kwargs: Any) -> Predictor:
        """Load a bundle folder (card checked, pickle refused; the weights' sha256 when the network is built).

        With ``precision="auto"`` and a cached verdict for ONNX Runtime, nothing here imports torch.
        """
        from .models.bundle import bundle_folder, check_weights

        card = load_card(bundle)
        check_weights(bundle_folder(bundle), card)
        return cls(None, card, bundle_dir=bundle, **kwargs)

    @classmethod
    def from_pretrained(cls, name: str = "default", **kwargs: Any) -> Predictor:
        """The bundle shipped in ``weights/`` (or ``$CXR_MILIARY_WEIGHTS``)."""
        return cls.load(find_default_bundle(name), **kwargs)

    def __repr__(self) -> str:
        return (
            f"Predictor(model={self.card.name!r}, runtime={self.runtime.name!r}, device={str(self.device)!r}, "
            f"input={self.preprocess.image_size}, threshold={self.threshold:.4f})"
        )

    @property
    def backend(self) -> str:
        """``"torch"``, ``"onnxruntime"`` or ``"onnxruntime-int8"`` (the first API's names)."""
        name = self.runtime.name
        return "onnxruntime-int8" if name == "onnxruntime-int8" else "onnxruntime" if name.startswith("onnxruntime") else "torch"

    @property
    def precision(self) -> str:
        """``"bf16"`` when the runtime computes in bf16, else ``"fp32"``."""
        return "bf16" if "bf16" in self.runtime.name else "fp32"

    # --- core -----------------------------------------------------------------------
    def radiograph(self, image: str | os.PathLike[str] | np.ndarray | Radiograph, force: bool = False) -> Radiograph:
        """A :class:`Radiograph` from a file, a 2-D array of display values, or a Radiograph."""
        return radiograph(image, force)

    def inputs(self, rad: Radiograph) -> np.ndarray:
        """The network input for one radiograph (C x H x W float32; the lung region for a lung-region bundle)."""
        return self.scorer.inputs(rad.pixels)

    def tensor(self, rad: Radiograph) -> Any:
        """The network input as a torch tensor (C x H x W)."""
        import torch

        return torch.from_numpy(self.inputs(rad))

    def logits(self, x: Any) -> Any:
        """Raw logits (B,) for a batch of inputs, as a torch tensor (numpy in, numpy out)."""
        out = self.runtime.logits(x)
        if isinstance(x, np.ndarray):
            return out
        import torch

        return torch.from_numpy(out)

    def probability(self, logit: np.ndarray | float) -> np.ndarray:
        """Temperature-scaled sigmoid."""
        return sigmoid(np.asarray(logit, dtype=np.float64) / self.temperature)

    @property
    def cam_path(self) -> str:
        """``"fast"`` (maps from the forward pass's activations and the head's gradient) or ``"eager"`` (grad-cam's backward)."""
        return "fast" if self._cam_record().get("separable") else "eager"

    def _cam_record(self) -> dict[str, Any]:
        if self.card.cam is None:  # bundles written before the record existed: checked once, on the network
            from .models.head_gradient import cam_record

            self.card.cam = cam_record(self.model, self.card)
        return self.card.cam

    def head_gradients(self, activations: np.ndarray) -> np.ndarray:
        """d(logit)/d(activations) through the head alone (closed form where known, else autograd on the head)."""
        import torch

        from .models.head_gradient import explicit_gradient, head_function

        if not hasattr(self, "_head_grad"):
            explicit = explicit_gradient(self.model) if self._cam_record().get("gradient") == "explicit" else None
            self._head_grad = explicit
            self._head_fn = head_function(self.model)
        a = torch.as_tensor(np.asarray(activations, dtype=np.float32)).to(self.device)
        if self._head_grad is not None:
            with torch.no_grad():
                return self._head_grad(a).float().cpu().numpy()
        a.requires_grad_(True)
        (g,) = torch.autograd.grad(self._head_fn(a).sum(), a)
        return g.float().cpu().numpy()

    def raw_maps(self, x: np.ndarray, method: str = "gradcam", forward: Forward | None = None) -> np.ndarray:
        """Raw class-activation maps (B, h, w) at feature resolution, for the positive logit.

        With the forward pass's activations (and gradient) and a separable head, the map
        costs no second pass; otherwise grad-cam's eager forward and backward on the fp32
        network (the reference).
        """
        if not self.cam_layer_name:
            raise ValueError("the bundle card names no cam_target_layer")
        if (
            self.maps == "auto"
            and forward is not None
            and forward.activations is not None
            and (forward.gradients is not None or self.cam_path == "fast")
        ):
            from .explain.cam import raw_cam_from

            grads = forward.gradients if forward.gradients is not None else self.head_gradients(forward.activations)
            return raw_cam_from(forward.activations, grads, method)
        import torch

        from .explain import raw_cam

        layer = self.model.get_submodule(self.cam_layer_name)
        return raw_cam(self.model, layer, torch.as_tensor(np.asarray(x, dtype=np.float32)).to(self.device), method)

    def predict(
        self,
        image: str | os.PathLike[str] | np.ndarray | Radiograph,
        cam: bool = True,
        cam_method: str = "gradcam",
        force: bool = False,
        threshold: float | None = None,
    ) -> Prediction:
        """Score one radiograph.

        Args:
            image: A file (DICOM/PNG/JPEG/TIFF), a 2-D array of display values in [0, 1],
                or a :class:`Radiograph`.
            cam: Compute the Grad-CAM map, lung mask and distribution.
            cam_method: ``gradcam`` (default), ``gradcam++``, ``hirescam``, ``layercam``, ``eigencam``.
            force: Score inputs the checks refuse (the decoder's, and the frontal-chest
                check's: the result then says ``frontal_chest: false``, ``reliable: false``).
            threshold: Override the bundle's decision threshold (in [0, 1]).

        Returns:
            A :class:`Prediction`. Same input twice gives the same output.

        Raises:
            cxr_miliary.io.ImageError: The input is unreadable or refused (``not-chest``:
                the pixels do not look like a frontal chest radiograph; ``orientation``: the
                film is not upright).
        """
        return self.result(image, cam=cam, cam_method=cam_method, force=force, threshold=threshold).to_prediction()

    def result(
        self,
        image: str | os.PathLike[str] | np.ndarray | Radiograph,
        cam: bool = True,
        cam_method: str = "gradcam",
        force: bool = False,
        threshold: float | None = None,
        preview_side: int | None | bool = False,
    ) -> Result:
        """One image through exactly what ``score`` runs: decode, then a batch of one (:mod:`.result`).

        ``preview_side`` keeps the copy overlays are drawn on (see :func:`.decoding.decode`).
        Raises the input's :class:`~cxr_miliary.io.ImageError` instead of returning an error result.
        """
        thr = self.threshold if threshold is None else check_threshold(threshold)
        decoded = decode(image, self.scorer.view, force=force, preview_side=preview_side if cam else False, raise_errors=True)
        (result,) = complete(self.scorer, [decoded], maps=cam, method=cam_method, threshold=thr)
        return result

    # --- batches --------------------------------------------------------------------
    def iter_score(self, paths: list[str | os.PathLike[str]], options: ScoreOptions | None = None, **keywords: Any) -> Iterator[dict[str, Any]]:
        """Stream result rows (one per input, in input order within each batch) for very large jobs.

        Inputs may be files, folders (recursive) and list files (``.txt`` or ``.csv``
        with a ``path`` column). Errors are rows with ``error`` set, never exceptions.
        ``options`` (:class:`~cxr_miliary.scoring.options.ScoreOptions`) or its fields as
        keywords (``batch_size``, ``num_workers``, ``cam``, ``cam_dir``, ``cam_method``,
        ``force``, ``file_timeout``, ``map_format``, ``overlay_format``, ``overlay_side``,
        ``dicom_out``).
        """
        from .scoring.archive import check_outputs
        from .scoring.inputs import expand_inputs
        from .scoring.stream import score_rows

        opts = ScoreOptions.of(options, **keywords)
        inputs = expand_inputs(paths)
        check_outputs(None, opts.outputs.cam_dir, opts.outputs.dicom_out, inputs=inputs, given=list(paths))
        for rows in score_rows(self.scorer, inputs, opts):
            yield from rows

    def score(
        self, paths: list[str | os.PathLike[str]], options: ScoreOptions | None = None, *, out: str | os.PathLike[str] | None = None, **keywords: Any
    ) -> Any:
        """Score many inputs; a DataFrame with exactly one row per input.

        Columns: see :mod:`cxr_miliary.scoring.table` (``path, probability, positive,
        threshold, error``, the integrity columns, ``reasons``, ``warnings``, the model,
        and with ``cam``/``cam_dir`` the distribution and file columns). With ``out``
        (.csv/.parquet/.jsonl) rows are journaled per batch and ``resume`` skips inputs
        already there. ``options`` is a :class:`~cxr_miliary.scoring.options.ScoreOptions`;
        its fields may be given as keywords instead, as may the first API's
        (``batch_size=16, num_workers=2, cam=False, cam_dir=None, resume=False,
        cam_method="gradcam", force=False, progress=False, file_timeout=...``, and the
        files' ``map_format="compact"|"full"``, ``overlay_format="jpeg"|"png"``,
        ``overlay_side=1024|None``, ``dicom_out``).
        """
        from .scoring.archive import score_table

        return score_table(self.scorer, paths, ScoreOptions.of(options, **keywords), out=out)


def check_threshold(threshold: float) -> float:
    """A decision threshold a user gave: a finite number in [0, 1]."""
    t = float(threshold)
    if not 0.0 <= t <= 1.0:  # also false for NaN
        raise ValueError(f"threshold must be a number from 0 to 1 (got {threshold!r})")
    return t
