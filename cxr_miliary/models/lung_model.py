"""The learned lung-field model: a small U-Net (segmentation-models-pytorch, timm encoder).

Three classes on a 256-pixel copy of the film: background, the image-left lung (the
patient's right) and the image-right lung (the patient's left), so the left/right split
is learned rather than cut at a midline. Its bundle (``weights/lungs``) is a safetensors
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

from .bundle import NAME_PATTERN, BundleError, check_file_record, read_card_json, sha256_file

CLASSES = ("background", "image-left lung", "image-right lung")
CARD = "card.json"
WEIGHTS = "model.safetensors"
ONNX = "model.onnx"
TASK = "lung-fields"
DEFAULT_ENCODER = "tu-mobilenetv3_small_100"
DEFAULT_DECODER = (64, 32, 24, 16, 8)


def create_lung_model(encoder: str = DEFAULT_ENCODER, decoder_channels: tuple[int, ...] = DEFAULT_DECODER, pretrained: bool = False) -> Any:
    """The U-Net (1 input channel, 3 classes). ``pretrained`` loads the encoder's hub weights (needs internet)."""
    import segmentation_models_pytorch as smp

    return smp.Unet(
        encoder_name=encoder,
        encoder_weights="imagenet" if pretrained else None,
        in_channels=1,
        classes=len(CLASSES),
        decoder_channels=tuple(decoder_channels),
    )


def normalise(pixels_small: np.ndarray, mean: float = 0.5, std: float = 0.25) -> np.ndarray:
    """(H, W) display values -> (1, 1, H, W) float32 network input."""
    return ((np.asarray(pixels_small, dtype=np.float32) - mean) / std)[None, None]


def read_lung_card(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The lung bundle's card, checked (types, names inside the folder, the task)."""
    path = Path(folder) / CARD
    card = read_card_json(path)
    if not isinstance(card, dict) or card.get("task") != TASK:
        raise BundleError(f"{path}: not a lung-field bundle (task must be {TASK!r})")
    size = card.get("input_size")
    if (
        not isinstance(size, int)
        or not 64 <= size <= 1024
        or not isinstance(card.get("encoder"), str)
        or not NAME_PATTERN.match(card["encoder"].replace("tu-", "", 1))
    ):
        raise BundleError(f"{path}: malformed lung card (input_size, encoder)")
    check_file_record(card.get("weights"), ".safetensors", "weights", str(path))
    if card.get("onnx") is not None:
        check_file_record(card["onnx"], ".onnx", "onnx", str(path))
    return card


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
    """Write weights, ONNX export (parity-checked) and card into ``out``."""
    import torch
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS))
    card: dict[str, Any] = {
        "task": TASK,
        "name": "cxr-miliary-lung-fields",
        "classes": list(CLASSES),
        "encoder": encoder,
        "decoder_channels": list(decoder_channels),
        "input_size": int(input_size),
        "normalise": {"mean": 0.5, "std": 0.25},
        "weights": {"file": WEIGHTS, "sha256": sha256_file(out / WEIGHTS)},
        "training_data": training_data,
        "metrics": metrics,
    }
    if export_onnx:
        import warnings

        x = torch.randn(2, 1, input_size, input_size, generator=torch.Generator().manual_seed(0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (x[:1],),
                str(out / ONNX),
                input_names=["image"],
                output_names=["logits"],
                dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        from .onnx import onnx_session

        with torch.no_grad():
            ref = model(x).numpy()
        got = onnx_session(out / ONNX).run(["logits"], {"image": x.numpy()})[0]
        diff = float(np.abs(ref - got).max())
        if diff > 1e-3:
            raise ValueError(f"lung model ONNX parity failed ({diff:.2e})")
        card["onnx"] = {"file": ONNX, "sha256": sha256_file(out / ONNX), "parity_max_abs_logit_diff": diff}
    from .. import strict_json

    (out / CARD).write_text(strict_json.dumps(card, indent=2) + "\n")
    return out


class LungSegmenter:
    """Runs a lung bundle: ONNX Runtime when its export is there (no torch), else the PyTorch network.

    Args:
        folder: The lung bundle.
        threads: Intra-op threads for ONNX Runtime (1 by default: it runs beside decode workers).
    """

    def __init__(self, folder: str | os.PathLike[str], threads: int | None = 1) -> None:
        self.folder = Path(folder)
        self.card = read_lung_card(self.folder)
        self.size = int(self.card["input_size"])
        self._session = None
        self._model = None
        rec = self.card.get("onnx")
        if rec is not None:
            try:
                import onnxruntime  # noqa: F401 - only whether it is installed
            except ImportError:
                rec = None
        if rec is not None:
            from .onnx import onnx_session

            self._session = onnx_session(self.folder / rec["file"], rec["sha256"], threads)
        else:
            import torch
            from safetensors.torch import load_file

            w = self.folder / self.card["weights"]["file"]
            if sha256_file(w) != self.card["weights"]["sha256"]:
                raise BundleError(f"{w}: sha256 does not match the card")
            self._model = create_lung_model(self.card["encoder"], tuple(self.card["decoder_channels"])).eval()
            self._model.load_state_dict(load_file(str(w)), strict=True)
            self._torch = torch

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) class logits for (N, 1, S, S) inputs."""
        if self._session is not None:
            return self._session.run(["logits"], {"image": np.ascontiguousarray(x, dtype=np.float32)})[0]
        with self._torch.no_grad():
            return self._model(self._torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()

    def probabilities(self, square: np.ndarray) -> np.ndarray:
        """(3, S, S) class probabilities (background, image-left lung, image-right lung) of a square S x S display-value image."""
        norm = self.card.get("normalise", {})
        z = self.logits(normalise(square, norm.get("mean", 0.5), norm.get("std", 0.25)))[0].astype(np.float64)
        z = np.exp(z - z.max(axis=0, keepdims=True))
        return (z / z.sum(axis=0, keepdims=True)).astype(np.float32)

    def sides(self, square: np.ndarray) -> np.ndarray:
        """int8 (S, S) class map (0, 1 image-left lung, 2 image-right lung) of a square S x S display-value image."""
        return np.argmax(self.probabilities(square), axis=0).astype(np.int8)
