"""The lung bundle's shape refiner: a small U-Net that corrects the lung network's probabilities.

The lung network (:mod:`cxr_miliary.models.lung_model`) draws what it sees: where a lung is
white with fluid or consolidation it keeps to the aerated patches and guesses the lost dome
low. The refiner reads the network's class probabilities and the film together at a quarter
of the network's resolution, where one receptive field spans the chest, and adds a smooth
correction to the network's log-probabilities: the shape of both lungs, learned from
phantoms whose lungs include outlines drawn on real films. Its last layer starts at zero, so
an untrained refiner changes nothing, and a sharp edge the network found stays where it is
(the correction is upsampled bilinearly, a few input pixels wide).

Its files sit in the lung bundle beside the network's (``refiner.safetensors``, its ONNX
export ``refiner.onnx``), recorded under the card's ``refiner`` key with their sha256;
a bundle without the key reads fields as before.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import BundleError, bundle_file, check_file_record, safetensors_header, sha256_file

WEIGHTS = "refiner.safetensors"
ONNX = "refiner.onnx"
#: Encoder widths at 1/4, 1/8, ... of the lung network's input (0.7 M parameters).
CHANNELS = (16, 32, 48, 64, 96)
#: The refiner works at the lung network's input side divided by this.
POOL = 4


def check_refiner_record(rec: Any, where: str) -> None:
    """A card's ``refiner`` record, checked: widths, pooling, the weights' and the export's file records."""
    if not isinstance(rec, dict):
        raise BundleError(f"{where}: 'refiner' must be an object")
    chans = rec.get("channels")
    if (
        not isinstance(chans, list)
        or not 2 <= len(chans) <= 6
        or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 512 for c in chans)
    ):
        raise BundleError(f"{where}: 'refiner.channels' must be two to six integers from 1 to 512")
    if rec.get("pool") not in (1, 2, 4, 8) or isinstance(rec.get("pool"), bool):
        raise BundleError(f"{where}: 'refiner.pool' must be 1, 2, 4 or 8")
    check_file_record(rec.get("weights"), ".safetensors", "refiner.weights", where)
    if rec.get("onnx") is not None:
        check_file_record(rec["onnx"], ".onnx", "refiner.onnx", where)


def create_lung_refiner(channels: tuple[int, ...] = CHANNELS, pool: int = POOL) -> Any:
    """The refiner network (torch is imported here, not at module import)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def block(i: int, o: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(i, o, 3, padding=1, bias=False),
            nn.BatchNorm2d(o),
            nn.ReLU(inplace=True),
            nn.Conv2d(o, o, 3, padding=1, bias=False),
            nn.BatchNorm2d(o),
            nn.ReLU(inplace=True),
        )

    class LungRefiner(nn.Module):
        """(N, 4, S, S): class probabilities (3) and the image in [0, 1] (1) -> refined class logits (N, 3, S, S)."""

        def __init__(self) -> None:
            super().__init__()
            self.pool = pool
            self.enc = nn.ModuleList(block(i, o) for i, o in zip((3, *channels[:-1]), channels, strict=True))
            c = channels[-1]
            # dilated convolutions at the coarsest level: the whole chest in one field, both lungs at once
            self.ctx = nn.Sequential(
                *[nn.Sequential(nn.Conv2d(c, c, 3, padding=d, dilation=d, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)) for d in (1, 2, 4)]
            )
            self.dec = nn.ModuleList(block(channels[k] + channels[k - 1], channels[k - 1]) for k in range(len(channels) - 1, 0, -1))
            self.out = nn.Conv2d(channels[0], 3, 1)
            nn.init.zeros_(self.out.weight)  # starts as the identity: the network's own probabilities
            nn.init.zeros_(self.out.bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            probs = x[:, :3]
            x = F.avg_pool2d(x[:, 1:], self.pool)  # the two lungs' probabilities and the image
            skips = []
            for i, enc in enumerate(self.enc):
                x = enc(F.max_pool2d(x, 2) if i else x)
                skips.append(x)
            x = self.ctx(x) + x
            for dec, skip in zip(self.dec, reversed(skips[:-1]), strict=True):
                x = dec(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
            delta = F.interpolate(self.out(x), size=probs.shape[-2:], mode="bilinear", align_corners=False)
            return torch.log(probs.clamp_min(1e-4)) + delta

    return LungRefiner()


def check_refiner_weights(folder: Path, rec: dict[str, Any]) -> Path:
    """The refiner's weights file: inside the bundle, its sha256 the card's, its tensors the network the record describes."""
    weights = bundle_file(folder, rec["weights"]["file"])
    if not weights.is_file():
        raise BundleError(f"{weights}: refiner weights file missing")
    if sha256_file(weights) != rec["weights"]["sha256"]:
        raise BundleError(f"{weights}: sha256 does not match the card; the file was changed")
    header = safetensors_header(weights)
    import torch

    with torch.device("meta"):
        net = create_lung_refiner(tuple(rec["channels"]), int(rec["pool"]))
    expected = {k: list(v.shape) for k, v in net.state_dict().items()}
    found = {k: [int(s) for s in v["shape"]] for k, v in header.items() if k != "__metadata__"}
    if expected != found:
        raise BundleError(f"{weights}: the weights do not fit the refiner the card describes")
    return weights


def refiner_input(probs: np.ndarray, square: np.ndarray) -> np.ndarray:
    """The refiner's (1, 4, S, S) input: the (3, S, S) class probabilities and the S x S display-value square."""
    return np.concatenate([probs, np.clip(square, 0.0, 1.0)[None]])[None].astype(np.float32)


class RefinerRunner:
    """Runs a bundle's refiner: ONNX Runtime when its export is there and installed, else PyTorch.

    Args:
        folder: The lung bundle.
        rec: The card's checked ``refiner`` record.
        threads: Intra-op threads for ONNX Runtime.
    """

    def __init__(self, folder: str | os.PathLike[str], rec: dict[str, Any], threads: int | None = 1) -> None:
        self.folder = Path(folder)
        self._model = None
        from .onnx import record_session

        self._session = record_session(self.folder, rec.get("onnx"), threads)
        if self._session is None:
            import torch
            from safetensors.torch import load_file

            weights = check_refiner_weights(self.folder, rec)
            self._model = create_lung_refiner(tuple(rec["channels"]), int(rec["pool"])).eval()
            self._model.load_state_dict(load_file(str(weights)), strict=True)
            self._torch = torch

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) refined logits for (N, 4, S, S) inputs: class probabilities and the image (see :func:`refiner_input`)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._session is not None:
            try:
                return self._session.run(["logits"], {"image": x})[0]
            except Exception as exc:  # a graph whose inputs or outputs are not the refiner's
                raise BundleError(f"{self.folder}: the lung refiner's ONNX export does not run ({type(exc).__name__})") from None
        with self._torch.no_grad():
            return self._model(self._torch.from_numpy(x)).numpy()


def export_refiner(model: Any, folder: str | os.PathLike[str], size: int) -> dict[str, Any]:
    """Write the refiner's weights and parity-checked ONNX export into ``folder``, each atomically; returns their record (no card).

    :func:`cxr_miliary.models.lung_bundle.save_refiner` writes the record into the card.
    """
    import torch
    from safetensors.torch import save_file

    from ..atomic import atomic_path
    from .onnx import export_with_parity

    folder = Path(folder)
    model = model.eval().cpu()
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.softmax(torch.randn(2, 3, size, size, generator=g), 1), torch.rand(2, 1, size, size, generator=g)], 1)
    with torch.no_grad():
        ref = [model(x).numpy()]

    def largest(reference: list[np.ndarray], got: list[np.ndarray]) -> float:
        return max(float(np.abs(r - q).max()) for r, q in zip(reference, got, strict=True))

    with atomic_path(folder / ONNX) as tmp:
        diff = export_with_parity(model, x, tmp, ["logits"], ref, largest, 1e-3, "lung refiner (logits)")
    return {
        "channels": [int(e[0].out_channels) for e in model.enc],
        "pool": int(model.pool),
        "weights": {"file": WEIGHTS, "sha256": sha256_file(folder / WEIGHTS)},
        "onnx": {"file": ONNX, "sha256": sha256_file(folder / ONNX), "parity_max_abs_logit_diff": diff},
    }
