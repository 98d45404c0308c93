"""The lung-field model's bundle: a typed card, checked before anything is allocated, written atomically.

Held to the classifier bundle's rules (:mod:`cxr_miliary.models.bundle`): a card of at
most 4 MB in strict JSON, every field typed and bounded, file names that stay inside the
folder (symlinks resolved), sha256 for every file it loads, a safetensors header checked
against the file and against the network it describes (built on PyTorch's meta device,
so a card asking for a giant network allocates nothing), ONNX read through
:func:`~cxr_miliary.models.onnx.onnx_session`. Every refusal is a
:class:`~cxr_miliary.models.bundle.BundleError` naming the file and the reason.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import strict_json
from ..atomic import atomic_path, write_text
from .bundle import MAX_PARAMETERS, NAME_PATTERN, BundleError, bundle_file, check_file_record, read_card_json, safetensors_header, sha256_file

CARD = "card.json"
WEIGHTS = "model.safetensors"
ONNX = "model.onnx"
TASK = "lung-fields"


@dataclass
class LungCard:
    """A lung bundle's ``card.json``, typed (unknown keys kept in ``extra``).

    Attributes:
        encoder: smp encoder name (``tu-<timm name>``).
        decoder_channels: The U-Net decoder's widths (five).
        input_size: The square input side (64-1024).
        weights: ``{"file", "sha256"}`` of the safetensors file.
        classes: The segmentation classes.
        orientation: The orientation head's classes (None: no head).
        normalise: ``{"mean", "std"}`` of the input.
        onnx: Record of the ONNX export.
        name: Model name.
        task: Always ``"lung-fields"``.
        training_data: What it was trained on.
        metrics: Validation figures.
        chest_check: ``{"unsure_lung_confidence", "chosen_on"}``: the frontal-chest check's
            grey-zone bar for this model (the lowest sure share an upright film may have and
            still pass as ``lungs-unsure``) and the films it was chosen on. The bar is a
            property of the model, not of the check: each lung model is sure of white lungs
            to its own degree. None: the check's default (:data:`~cxr_miliary.inference.
            chest_check.UNSURE_LUNG_CONFIDENCE`).
        refiner: The shape refiner's record (:mod:`cxr_miliary.models.lung_refiner`: its widths,
            pooling, weights and ONNX files with sha256, what it was trained on), or None: the
            network's probabilities are read as they are.
        extra: Keys this version does not know.
    """

    encoder: str
    decoder_channels: list[int]
    input_size: int
    weights: dict[str, Any]
    classes: list[str] = field(default_factory=lambda: ["background", "image-left lung", "image-right lung"])
    orientation: list[str] | None = None
    normalise: dict[str, float] = field(default_factory=lambda: {"mean": 0.5, "std": 0.25})
    onnx: dict[str, Any] | None = None
    name: str = "cxr-miliary-lung-fields"
    task: str = TASK
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    chest_check: dict[str, Any] | None = None
    refiner: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, where: str = CARD) -> LungCard:
        """Check ``d`` against the schema and build the card (BundleError otherwise)."""

        def bad(msg: str) -> BundleError:
            return BundleError(f"{where}: {msg}")

        if not isinstance(d, dict) or d.get("task") != TASK:
            raise bad(f"not a lung-field bundle (task must be {TASK!r})")
        for key in ("encoder", "decoder_channels", "input_size", "weights"):
            if key not in d:
                raise bad(f"missing '{key}'")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        card = cls(**{k: v for k, v in d.items() if k in known}, extra={k: v for k, v in d.items() if k not in known})
        if not isinstance(card.input_size, int) or isinstance(card.input_size, bool) or not 64 <= card.input_size <= 1024:
            raise bad("'input_size' must be an integer from 64 to 1024")
        if not isinstance(card.encoder, str) or not NAME_PATTERN.match(card.encoder.replace("tu-", "", 1)):
            raise bad("'encoder' must be an encoder name (letters, digits, '_', '-', '.')")
        chans = card.decoder_channels
        if (
            not isinstance(chans, list)
            or len(chans) != 5
            or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 1024 for c in chans)
        ):
            raise bad("'decoder_channels' must be five integers from 1 to 1024")
        if not isinstance(card.classes, list) or len(card.classes) != 3:
            raise bad("'classes' must list the three classes")
        if card.orientation is not None and (
            not isinstance(card.orientation, list) or len(card.orientation) != 4 or not all(isinstance(o, str) for o in card.orientation)
        ):
            raise bad("'orientation' must list the four orientations")
        norm = card.normalise
        if (
            not isinstance(norm, dict)
            or not all(isinstance(norm.get(k), (int, float)) and math.isfinite(norm[k]) for k in ("mean", "std"))
            or not norm["std"] > 0
        ):
            raise bad("'normalise' must hold a finite 'mean' and a positive 'std'")
        check_file_record(card.weights, ".safetensors", "weights", where)
        if card.onnx is not None:
            check_file_record(card.onnx, ".onnx", "onnx", where)
        for key in ("training_data", "metrics"):
            if not isinstance(getattr(card, key), dict):
                raise bad(f"'{key}' must be an object")
        check = card.chest_check
        if check is not None:
            bar = check.get("unsure_lung_confidence") if isinstance(check, dict) else None
            # under 0.5 the fields are dropped anyway (explain.lungs.MIN_FIELD_CONFIDENCE)
            if not isinstance(bar, (int, float)) or isinstance(bar, bool) or not 0.5 <= bar <= 1.0:
                raise bad("'chest_check' must hold 'unsure_lung_confidence', a number from 0.5 to 1")
        if card.refiner is not None:
            from .lung_refiner import check_refiner_record

            check_refiner_record(card.refiner, where)
        return card

    @property
    def unsure_lung_confidence(self) -> float | None:
        """The frontal-chest check's grey-zone bar chosen for this model, or None (the check's default)."""
        return None if self.chest_check is None else float(self.chest_check["unsure_lung_confidence"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (unknown keys kept)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**{k: v for k, v in d.items() if v is not None}, **self.extra}

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style read access (the first API returned the card as a dict)."""
        return self.to_dict().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]


def load_lung_card(folder: str | os.PathLike[str]) -> LungCard:
    """The lung bundle's card, checked (BundleError: missing, malformed, not a lung bundle)."""
    path = Path(folder) / CARD
    if not Path(folder).is_dir():
        raise BundleError(f"{folder}: no lung bundle here (not a folder)")
    return LungCard.from_dict(read_card_json(path), str(path))


def read_lung_card(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The card as a plain dict (checked). Kept for callers of the first API."""
    return load_lung_card(folder).to_dict()


def check_lung_weights(folder: Path, card: LungCard) -> Path:
    """The weights file: inside the bundle, its sha256 the card's, its header sound and fitting the network the card describes."""
    weights = bundle_file(folder, card.weights["file"])
    if not weights.is_file():
        raise BundleError(f"{weights}: weights file missing")
    if sha256_file(weights) != card.weights["sha256"]:
        raise BundleError(f"{weights}: sha256 does not match the card; the file was changed")
    header = safetensors_header(weights)
    import torch

    from .lung_model import create_lung_model

    try:
        with torch.device("meta"):
            net = create_lung_model(card.encoder, tuple(card.decoder_channels), orientation=bool(card.orientation))
    except Exception as exc:  # an encoder this smp/timm does not know, or an impossible shape
        raise BundleError(f"{folder / CARD}: the lung network the card describes cannot be built ({type(exc).__name__})") from None
    n = sum(p.numel() for p in net.parameters())
    if n > MAX_PARAMETERS:
        raise BundleError(f"{folder / CARD}: {n / 1e6:.0f} M parameters, over the limit of {MAX_PARAMETERS / 1e6:.0f} M")
    expected = {k: list(v.shape) for k, v in net.state_dict().items()}
    found = {k: [int(s) for s in v["shape"]] for k, v in header.items() if k != "__metadata__"}
    if expected != found:
        raise BundleError(f"{weights}: the weights do not fit the lung network the card describes")
    return weights


def write_lung_bundle(out: Path, state: dict[str, Any], card: LungCard) -> Path:
    """Write weights and card atomically (the card last: a bundle with a card is complete)."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    card.weights = {"file": WEIGHTS, "sha256": sha256_file(out / WEIGHTS)}
    LungCard.from_dict(card.to_dict(), str(out / CARD))
    write_text(out / CARD, strict_json.dumps(card.to_dict(), indent=2) + "\n")
    return out


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

    from .lung_model import CLASSES, ORIENTATIONS, split_outputs

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
        from .onnx import export_with_parity

        names = ["logits", "orientation"] if with_orientation else ["logits"]
        x = torch.randn(2, 1, input_size, input_size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ref = [t.numpy() for t in split_outputs(model(x)) if t is not None]

        def largest(reference: list[np.ndarray], got: list[np.ndarray]) -> float:
            return max(float(np.abs(r - g).max()) for r, g in zip(reference, got, strict=True))

        with atomic_path(out / ONNX) as tmp:
            diff = export_with_parity(model, x, tmp, names, ref, largest, 1e-3, "lung model (logits)")
        card.onnx = {"file": ONNX, "sha256": sha256_file(out / ONNX), "parity_max_abs_logit_diff": diff}
    return write_lung_bundle(out, state, card)


def save_refiner(model: Any, folder: str | os.PathLike[str], *, training_data: dict[str, Any], metrics: dict[str, Any], size: int) -> dict[str, Any]:
    """Write a shape refiner into a lung bundle: its weights and ONNX export (:func:`~.lung_refiner.export_refiner`), then the card's ``refiner`` record.

    The card is written last, so the bundle is never half refined. Returns the record.
    """
    from .lung_refiner import export_refiner

    folder = Path(folder)
    card = load_lung_card(folder)
    rec = {**export_refiner(model, folder, size), "training_data": training_data, "metrics": metrics}
    card.refiner = rec
    LungCard.from_dict(card.to_dict(), str(folder / CARD))
    write_text(folder / CARD, strict_json.dumps(card.to_dict(), indent=2) + "\n")
    return rec
