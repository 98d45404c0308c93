"""The learned lung-field model: a small U-Net (segmentation-models-pytorch, timm encoder).

Three classes on a 256-pixel copy of the film: background, the image-left lung (the
patient's right) and the image-right lung (the patient's left), so the left/right split
is learned rather than cut at a midline. A second head on the encoder says how the film
is turned (:data:`ORIENTATIONS`): a segmentation network finds dark lung-shaped regions
on an upside-down film as readily as on an upright one, so the orientation is asked of
the whole image (neck and shoulders above, diaphragm, heart and abdomen below). Its bundle (``weights/lungs``) is a safetensors
file, an ONNX export and a card with both sha256s, like the classifier's; inference runs
the ONNX file on ONNX Runtime (no torch), or the network itself where only torch is there.

The lung *fields* are what radiologists outline: the aerated lung the film shows, not the
soft tissue above the clavicles, outside the rib cage or below the diaphragm, and not the
heart. Trained on phantoms (whose truth masks are exactly that) with heavy augmentation,
or on JSRT/SCR, Montgomery and Shenzhen (``cxr-miliary manifest jsrt|montgomery|shenzhen``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import BundleError, bundle_file, sha256_file
from .lung_bundle import CARD, ONNX, TASK, WEIGHTS, LungCard, check_lung_weights, load_lung_card, read_lung_card, write_lung_bundle

__all__ = [
    "CARD",
    "ONNX",
    "TASK",
    "WEIGHTS",
    "LungCard",
    "LungSegmenter",
    "create_lung_model",
    "load_lung_card",
    "read_lung_card",
    "save_lung_bundle",
]

CLASSES = ("background", "image-left lung", "image-right lung")
#: The orientation head's classes: how the film on the screen is turned from upright
#: (``np.rot90`` with k = 0, 1, 2, 3; a film flipped upside down is "upside-down" too).
ORIENTATIONS = ("upright", "rotated-90-anticlockwise", "upside-down", "rotated-90-clockwise")
DEFAULT_ENCODER = "tu-mobilenetv3_small_100"
DEFAULT_DECODER = (64, 32, 24, 16, 8)


def create_lung_model(
    encoder: str = DEFAULT_ENCODER, decoder_channels: tuple[int, ...] = DEFAULT_DECODER, pretrained: bool = False, orientation: bool = True
) -> Any:
    """The U-Net (1 input channel, 3 classes), with the orientation head on its encoder unless ``orientation`` is False.

    With the head the network returns ``(segmentation logits, orientation logits)``.
    ``pretrained`` loads the encoder's hub weights (needs internet).
    """
    import segmentation_models_pytorch as smp

    return smp.Unet(
        encoder_name=encoder,
        encoder_weights="imagenet" if pretrained else None,
        in_channels=1,
        classes=len(CLASSES),
        decoder_channels=tuple(decoder_channels),
        aux_params={"classes": len(ORIENTATIONS), "dropout": 0.2} if orientation else None,
    )


def split_outputs(out: Any) -> tuple[Any, Any]:
    """``(segmentation logits, orientation logits or None)`` from what the network returned."""
    return (out[0], out[1]) if isinstance(out, (tuple, list)) else (out, None)


def normalise(pixels_small: np.ndarray, mean: float = 0.5, std: float = 0.25) -> np.ndarray:
    """(H, W) display values -> (1, 1, H, W) float32 network input."""
    return ((np.asarray(pixels_small, dtype=np.float32) - mean) / std)[None, None]


def save_lung_bundle(
    model: Any,
    out: str | os.PathLike[str],
    *,
    input_size: int,
    encoder: str,
    decoder_channels: tuple[int, ...],
    training_data: dict[str, Any],
    metrics: dict[str, Any],
    export_onnx: bool = True,
) -> Path:
    """Write weights, ONNX export (parity-checked) and card into ``out``, each file atomically, the card last."""
    import torch

    from ..atomic import atomic_path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with_orientation = getattr(model, "classification_head", None) is not None
    card = LungCard(
        encoder=encoder,
        decoder_channels=[int(c) for c in decoder_channels],
        input_size=int(input_size),
        weights={"file": WEIGHTS, "sha256": "0" * 64},
        classes=list(CLASSES),
        orientation=list(ORIENTATIONS) if with_orientation else None,
        training_data=training_data,
        metrics=metrics,
    )
    if export_onnx:
        import warnings

        names = ["logits", "orientation"] if with_orientation else ["logits"]
        x = torch.randn(2, 1, input_size, input_size, generator=torch.Generator().manual_seed(0))
        with atomic_path(out / ONNX) as tmp:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model,
                    (x[:1],),
                    str(tmp),
                    input_names=["image"],
                    output_names=names,
                    dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
                    opset_version=17,
                    dynamo=False,
                )
            from .onnx import onnx_session

            with torch.no_grad():
                ref = [t.numpy() for t in split_outputs(model(x)) if t is not None]
            got = onnx_session(tmp).run(names, {"image": x.numpy()})
            diff = max(float(np.abs(r - g).max()) for r, g in zip(ref, got, strict=True))
            if diff > 1e-3:
                raise ValueError(f"lung model ONNX parity failed ({diff:.2e})")
        card.onnx = {"file": ONNX, "sha256": sha256_file(out / ONNX), "parity_max_abs_logit_diff": diff}
    return write_lung_bundle(out, state, card)


class LungSegmenter:
    """Runs a lung bundle: ONNX Runtime when its export is there (no torch), else the PyTorch network.

    Args:
        folder: The lung bundle.
        threads: Intra-op threads for ONNX Runtime (1 by default: it runs beside decode workers).
    """

    def __init__(self, folder: str | os.PathLike[str], threads: int | None = 1) -> None:
        self.folder = Path(folder)
        self.card = load_lung_card(self.folder)
        self.size = int(self.card.input_size)
        self._session = None
        self._model = None
        rec = self.card.onnx
        if rec is not None:
            try:
                import onnxruntime  # noqa: F401 - only whether it is installed
            except ImportError:
                rec = None
        if rec is not None:
            from .onnx import onnx_session

            self._session = onnx_session(bundle_file(self.folder, rec["file"]), rec["sha256"], threads)
        else:
            import torch
            from safetensors.torch import load_file

            weights = check_lung_weights(self.folder, self.card)
            self._model = create_lung_model(self.card.encoder, tuple(self.card.decoder_channels), orientation=bool(self.card.orientation)).eval()
            self._model.load_state_dict(load_file(str(weights)), strict=True)
            self._torch = torch
        self._check_outputs()

    def _check_outputs(self) -> None:
        """One blank input through the network: a graph that gives other shapes is refused now, not on every image."""
        try:
            seg, orient = self.run(np.zeros((1, 1, self.size, self.size), dtype=np.float32))
        except Exception as exc:
            raise BundleError(f"{self.folder}: the lung model does not run ({type(exc).__name__})") from None
        want_orient = None if not self.orientations else (1, len(self.orientations))
        if seg.shape != (1, len(CLASSES), self.size, self.size) or (None if orient is None else orient.shape) != want_orient:
            raise BundleError(f"{self.folder}: the lung model's outputs {seg.shape} do not match its card")

    @property
    def orientations(self) -> tuple[str, ...] | None:
        """The orientation head's classes, or None for a bundle without the head."""
        return tuple(self.card.orientation) if self.card.orientation else None

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(N, 3, S, S)`` class logits and ``(N, 4)`` orientation logits (None without the head) for (N, 1, S, S) inputs."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._session is not None:
            names = ["logits", "orientation"] if self.orientations else ["logits"]
            try:
                out = self._session.run(names, {"image": x})
            except Exception as exc:  # a graph whose inputs or outputs are not the card's
                raise BundleError(f"{self.folder}: the lung model's ONNX export does not run ({type(exc).__name__})") from None
            return out[0], (out[1] if len(out) > 1 else None)
        with self._torch.no_grad():
            seg, orient = split_outputs(self._model(self._torch.from_numpy(x)))
        return seg.numpy(), None if orient is None else orient.numpy()

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) class logits for (N, 1, S, S) inputs."""
        return self.run(x)[0]

    def predict(self, square: np.ndarray) -> tuple[np.ndarray, dict[str, float] | None]:
        """Class probabilities (3, S, S) of a square S x S display-value image, and its orientation probabilities (or None)."""
        norm = self.card.normalise
        seg, orient = self.run(normalise(square, norm["mean"], norm["std"]))
        probs = _softmax(seg[0].astype(np.float64), axis=0).astype(np.float32)
        if orient is None or self.orientations is None:
            return probs, None
        p = _softmax(orient[0].astype(np.float64), axis=0)
        return probs, {name: round(float(v), 4) for name, v in zip(self.orientations, p, strict=True)}

    def probabilities(self, square: np.ndarray) -> np.ndarray:
        """(3, S, S) class probabilities (background, image-left lung, image-right lung) of a square S x S display-value image."""
        return self.predict(square)[0]

    def sides(self, square: np.ndarray) -> np.ndarray:
        """int8 (S, S) class map (0, 1 image-left lung, 2 image-right lung) of a square S x S display-value image."""
        return np.argmax(self.probabilities(square), axis=0).astype(np.int8)


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    z = np.exp(z - z.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)
