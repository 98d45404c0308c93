"""``Predictor``: a model bundle -> calibrated probability, Grad-CAM, distribution, knowledge.

Imports no Lightning (a test checks it in a fresh interpreter) and no pickle.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import knowledge
from ..calibration import sigmoid
from ..explain import absolute_map, distribution, estimate_lung_mask, raw_cam, to_image
from ..io import ImageMeta, Radiograph, load_image
from ..models import load_bundle
from ..transforms import Preprocess, eval_transform, to_tensor
from .locate import find_default_bundle
from .precision import PRECISIONS, cpu_has_native_bf16

log = logging.getLogger(__name__)

#: Probabilities within this distance of the threshold are "uncertain": CT is suggested.
UNCERTAINTY_BAND = 0.15
#: On CPU the network runs in chunks of this many images: at 384-512 px a convnet was
#: 25-60 % faster per image at batch 1-2 than at 16 (the activations stay in cache).
CPU_MICRO_BATCH = {"fp32": 1, "bf16": 2}
#: Effective pixel size at the network's input above which a 2 mm nodule spans under
#: two pixels and may be invisible.
COARSE_MM = 1.0


@dataclass
class Prediction:
    """One image's result. Arrays are at the decoded image's resolution."""

    probability: float
    positive: bool
    threshold: float
    logit: float
    model: dict[str, str]
    cam: np.ndarray | None = None
    lung_mask: np.ndarray | None = None
    distribution: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    differential: list[dict[str, Any]] | None = None
    recommendations: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``cxr-miliary predict`` prints (no arrays, no identifiers)."""
        out: dict[str, Any] = {
            "probability": round(self.probability, 6),
            "positive": self.positive,
            "threshold": round(self.threshold, 6),
            "model": self.model,
            "distribution": self.distribution,
            "warnings": self.warnings,
        }
        if self.positive:
            out["differential"] = self.differential
            out["recommendations"] = self.recommendations
        elif self.recommendations:
            out["recommendations"] = self.recommendations
        out["image"] = {k: self.meta.get(k) for k in ("source_format", "rows", "columns", "modality", "view", "pixel_spacing_mm")}
        out["disclaimer"] = knowledge.load()["disclaimer"]
        return out


def onnx_session(path: Path, sha256: str, threads: int | None = None):  # noqa: ANN201 - onnxruntime is optional
    """An ONNX Runtime CPU session for ``path``, after checking its sha256."""
    from ..models import BundleError, sha256_file

    if not path.is_file() or sha256_file(path) != sha256:
        raise BundleError(f"{path}: ONNX file missing or its sha256 does not match the record")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # ORT's memory-pattern planner kept ~1 GB more resident for batches of 16 at 512 px
    # and was not faster without it (40 vs 37 img/s here)
    opts.enable_mem_pattern = False
    if threads:
        opts.intra_op_num_threads = int(threads)
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_logits(session: Any, x: torch.Tensor) -> torch.Tensor:
    """Logits (B,) from an ONNX Runtime session of an exported bundle network."""
    return torch.from_numpy(session.run(None, {"image": x.numpy().astype(np.float32)})[0].reshape(-1).astype(np.float32))


class Predictor:
    """Scores radiographs with a model bundle.

    Args:
        model: The network (eval mode).
        card: The bundle's card.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        threads: CPU threads for torch (default: torch's choice).
        precision: ``"auto"`` (default: the fastest path that gives fp32's answers on
            this machine, checked once per model and cached, see
            :mod:`cxr_miliary.inference.fastpath`), ``"fp32"`` or ``"bf16"`` for the
            forward pass; Grad-CAM always runs in fp32.
        backend: ``"torch"``, ``"onnxruntime"`` or ``"onnxruntime-int8"`` (the
            probability from the ONNX file the card records; Grad-CAM stays on the
            PyTorch network).
        bundle_dir: Folder of the bundle (needed to find the ONNX file).
    """

    def __init__(self, model: torch.nn.Module, card: dict[str, Any], device: str = "auto", threads: int | None = None,
                 precision: str = "auto", backend: str = "torch", bundle_dir: str | os.PathLike[str] | None = None) -> None:
        if threads:
            torch.set_num_threads(int(threads))
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        if backend not in ("torch", "onnxruntime", "onnxruntime-int8"):
            raise ValueError("backend must be 'torch', 'onnxruntime' or 'onnxruntime-int8'")
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
        self.card = card
        self.bundle_dir = bundle_dir
        # channels_last is the layout oneDNN/cuDNN convolutions are fastest in (~1.8x on
        # CPU in fp32), with the same fp32 arithmetic.
        self.model = model.to(self.device).eval().to(memory_format=torch.channels_last)
        # the benchmark's plain-eager baseline sets contiguous_format and no chunking
        self.layout = torch.channels_last
        self.micro_batch: int | None = CPU_MICRO_BATCH["fp32"] if self.device.type == "cpu" else None
        self.preprocess = Preprocess.from_dict(card["preprocess"])
        self.transform = eval_transform(self.preprocess)
        self.temperature = float(card.get("temperature", 1.0))
        self.threshold = float(card.get("threshold", 0.5))
        self.cam_layer_name = card.get("cam_target_layer")
        self.model_info = {"name": str(card.get("name", "cxr-miliary")), "sha256": str(card["weights"]["sha256"])}
        self.precision, self.backend = "fp32", backend
        self._fast: torch.nn.Module | None = None
        key = {"onnxruntime": "onnx", "onnxruntime-int8": "onnx_int8"}.get(backend)
        self._ort = self._onnx_session(card, bundle_dir, threads, key) if key else None
        #: How ``auto`` was resolved (the measured candidates), or None.
        self.fastpath: dict[str, Any] | None = None
        if precision == "auto" and backend == "torch":
            from .fastpath import choose

            choice, self.fastpath = choose(self)
            if choice == "onnxruntime":
                self.backend = "onnxruntime"
                self._ort = onnx_session(Path(self.fastpath["onnx_file"]), self.fastpath["onnx_sha256"], threads)
            else:
                precision = choice
        if precision == "bf16":
            from .fastpath import bf16_network

            if self.device.type == "cpu" and not cpu_has_native_bf16():
                log.warning("this CPU has no native bf16: the bf16 path is emulated and slower than fp32")
            self.precision, self._fast = "bf16", bf16_network(self.model)
            self.micro_batch = CPU_MICRO_BATCH["bf16"] if self.device.type == "cpu" else None

    @staticmethod
    def _onnx_session(card: dict[str, Any], bundle_dir: str | os.PathLike[str] | None, threads: int | None, key: str = "onnx"):  # noqa: ANN205
        from ..models import BundleError

        rec = card.get(key)
        if not rec or bundle_dir is None:
            raise BundleError("this bundle has no ONNX export; run 'cxr-miliary export --weights B --onnx B/model.onnx'")
        return onnx_session(Path(bundle_dir) / rec["file"], rec["sha256"], threads)

    @classmethod
    def load(cls, bundle: str | os.PathLike[str], **kwargs: Any) -> Predictor:
        """Load a bundle folder (sha256 verified; pickle refused)."""
        model, card = load_bundle(bundle)
        return cls(model, card, bundle_dir=bundle, **kwargs)

    @classmethod
    def from_pretrained(cls, name: str = "default", **kwargs: Any) -> Predictor:
        """The bundle shipped in ``weights/`` (or ``$CXR_MILIARY_WEIGHTS``)."""
        return cls.load(find_default_bundle(name), **kwargs)

    # --- core -----------------------------------------------------------------------
    def _radiograph(self, image: str | os.PathLike[str] | np.ndarray | Radiograph, force: bool) -> Radiograph:
        if isinstance(image, Radiograph):
            return image
        if isinstance(image, np.ndarray):
            arr = np.asarray(image, dtype=np.float32)
            if arr.ndim != 2:
                raise ValueError("an array input must be 2-D display values in [0, 1]")
            arr = np.clip(arr, 0.0, 1.0)
            return Radiograph(arr, ImageMeta(source_format="array", rows=arr.shape[0], columns=arr.shape[1], warnings=["array input: modality, view and spacing unverified"]))
        return load_image(Path(image), force=force)

    def tensor(self, rad: Radiograph) -> torch.Tensor:
        """The network input for one radiograph (C x H x W)."""
        return to_tensor(rad.pixels, self.transform, self.preprocess.channels)

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Raw logits (B,) for a batch of input tensors."""
        if self._ort is not None:
            return onnx_logits(self._ort, x)
        if self.micro_batch and len(x) > self.micro_batch:
            return torch.cat([self.logits(chunk) for chunk in x.split(self.micro_batch)])
        x = x.to(self.device).contiguous(memory_format=self.layout)
        if self._fast is not None:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                return self._fast(x).reshape(-1).float().cpu()
        return self.model(x).reshape(-1).float().cpu()

    def probability(self, logit: np.ndarray | float) -> np.ndarray:
        """Temperature-scaled sigmoid."""
        return sigmoid(np.asarray(logit, dtype=np.float64) / self.temperature)

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
            force: Accept inputs the acceptance checks reject.
            threshold: Override the bundle's decision threshold.

        Returns:
            A :class:`Prediction`. Same input twice gives the same output.

        Raises:
            cxr_miliary.io.ImageError: The input is unreadable or rejected.
        """
        rad = self._radiograph(image, force)
        x = self.tensor(rad)[None]
        logit = float(self.logits(x)[0])
        prob = float(self.probability(logit))
        thr = self.threshold if threshold is None else float(threshold)
        positive = prob >= thr
        pred = Prediction(prob, positive, thr, logit, dict(self.model_info), warnings=list(rad.meta.warnings), meta=rad.meta.to_dict())
        if cam:
            self._explain(pred, rad, x, cam_method)
        self._knowledge(pred, rad)
        return pred

    # --- batches --------------------------------------------------------------------
    def iter_score(
        self,
        paths: list[str | os.PathLike[str]],
        batch_size: int = 16,
        num_workers: int = 2,
        cam: bool = False,
        cam_dir: str | os.PathLike[str] | None = None,
        cam_method: str = "gradcam",
        force: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Stream result rows (one per input, in input order within each batch) for very large jobs.

        Inputs may be files, folders (recursive) and list files (``.txt`` or ``.csv``
        with a ``path`` column). Errors are rows with ``error`` set, never exceptions.
        """
        from .inputs import expand_inputs

        yield from self._rows(expand_inputs(paths), batch_size, num_workers, cam, cam_dir, cam_method, force)

    def _rows(self, files: list[str], batch_size: int, num_workers: int, cam: bool, cam_dir: Any, cam_method: str, force: bool) -> Iterator[dict[str, Any]]:
        """Rows for already-expanded input files."""
        from .batch import score_rows

        for rows in score_rows(self, files, batch_size=batch_size, num_workers=num_workers, cam=cam, cam_dir=cam_dir, cam_method=cam_method, force=force):
            yield from rows

    def score(
        self,
        paths: list[str | os.PathLike[str]],
        batch_size: int = 16,
        num_workers: int = 2,
        cam: bool = False,
        cam_dir: str | os.PathLike[str] | None = None,
        out: str | os.PathLike[str] | None = None,
        resume: bool = False,
        cam_method: str = "gradcam",
        force: bool = False,
        progress: bool = False,
    ) -> pd.DataFrame:
        """Score many inputs; a DataFrame with exactly one row per input.

        Columns: ``path, probability, positive, threshold, error, model_name,
        model_sha256`` and, with ``cam``/``cam_dir``, the distribution (``pattern``,
        ``right``, ``left``, six zones) and ``cam_path``/``overlay_path``. With ``out``
        (.csv/.parquet/.jsonl) rows are journaled per batch and ``resume`` skips inputs
        already there.
        """
        from .inputs import expand_inputs
        from .journal import read_output
        from .scoring import columns_for, score_to_file

        files = expand_inputs(paths)
        if out is None:  # the inputs are expanded once, here
            rows = list(self._rows(files, batch_size, num_workers, cam, cam_dir, cam_method, force))
            return pd.DataFrame(rows, columns=columns_for(cam, cam_dir))
        score_to_file(self, files, out, batch_size=batch_size, num_workers=num_workers, cam=cam, cam_dir=cam_dir,
                      cam_method=cam_method, force=force, resume=resume, progress=progress)
        return pd.DataFrame(list(read_output(Path(out))), columns=columns_for(cam, cam_dir))

    def _explain(self, pred: Prediction, rad: Radiograph, x: torch.Tensor, method: str) -> None:
        lungs = estimate_lung_mask(rad.pixels)
        if not lungs.any():
            pred.warnings.append("lung fields not found; the map is not restricted to the lungs")
        layer = self.model.get_submodule(self.cam_layer_name) if self.cam_layer_name else None
        if layer is None:
            raise ValueError("the bundle card names no cam_target_layer")
        raw = raw_cam(self.model, layer, x.to(self.device).contiguous(), method)[0]  # fp32 path
        pred.cam = absolute_map(to_image(raw, self.preprocess.image_size, rad.shape), pred.probability, lungs if lungs.any() else None)
        pred.lung_mask = lungs
        pred.distribution = distribution(pred.cam, lungs, pred.positive)

    def _knowledge(self, pred: Prediction, rad: Radiograph) -> None:
        kb = knowledge.load()
        spacing = rad.meta.pixel_spacing_mm
        longest = max(rad.shape)
        effective = spacing[0] * longest / self.preprocess.image_size if spacing else None
        if (effective is not None and effective > COARSE_MM) or (spacing is None and longest < 1024):
            pred.warnings.append(kb["coarse_input_warning"])
        if pred.positive:
            pred.differential = knowledge.differential()
            pred.recommendations = list(kb["recommendations"])
        if abs(pred.probability - pred.threshold) <= UNCERTAINTY_BAND:
            pred.recommendations = (pred.recommendations or []) + [kb["uncertain_recommendation"]]
