"""The model card: what inference needs of a bundle, typed and checked (no torch, no files written).

:class:`Card` is the typed form of ``card.json`` (what timm's ``PretrainedCfg`` is to timm),
checked against a schema *before* anything is allocated. The bundle's file I/O (reading,
writing, the weights' checks, loading the network) is :mod:`.bundle`'s.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..transforms import REGION_MARGIN, REGIONS

CARD = "card.json"
WEIGHTS = "model.safetensors"
HUMAN_CARD = "MODEL_CARD.md"
FORMAT_VERSION = 1
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle")
#: A card is a few kB; anything far larger is not a card.
MAX_CARD_BYTES = 4 << 20
#: safetensors' own header limit (100 MB); a header length beyond it is refused unread.
MAX_HEADER_BYTES = 100 << 20
#: Largest network a bundle may describe (parameters), checked on an unallocated copy.
MAX_PARAMETERS = 500_000_000
#: Classifier heads a card may name; ``"zones"`` is the grid head's first name.
HEADS = ("global", "grid")
HEAD_ALIASES = {"zones": "grid"}
#: What a bundle was trained on (``training_data.domain``): only phantoms, only real films, or both.
DOMAINS = ("synthetic", "real", "mixed")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_MODULE_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+){0,15}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleError(Exception):
    """A bundle that is missing, tampered with, malformed, or not in the safe format."""


def canonical_head(name: str) -> str:
    """The head's current name (``"zones"`` -> ``"grid"``); raises ValueError on unknown heads."""
    head = HEAD_ALIASES.get(name, name)
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)} (got {name!r})")
    return head


# --- the card ---------------------------------------------------------------------------
@dataclass
class Card:
    """A bundle's ``card.json``, typed. Unknown keys are kept in ``extra`` and written back.

    Attributes:
        backbone: timm model name (from timm's local registry; hub names are refused).
        preprocess: ``image_size``, ``channels``, ``mean``, ``std`` (see
            :class:`~cxr_miliary.transforms.Preprocess`).
        weights: ``{"file", "sha256"}`` of the safetensors file inside the bundle.
        name: Model name shown in outputs.
        head: ``"global"`` or ``"grid"`` (``"zones"`` is read as ``"grid"``).
        num_outputs: Always 1 (one logit).
        cam_target_layer: Module Grad-CAM hooks (a dotted path inside the network).
        temperature: Calibration temperature (> 0).
        threshold: Decision threshold on the calibrated probability, in [0, 1].
        threshold_rule: How the threshold was chosen (rule, target, validation figures).
        label: Label definition (``positive_terms``, ``definition``).
        training_data: What the model was trained on (counts, description, ``domain``
            and ``sources``; see :attr:`domain`).
        metrics: Validation metrics before/after calibration.
        software: Versions that wrote the bundle.
        intended_use: The intended-use statement.
        format_version: Bundle format version.
        onnx: Record of an ONNX export inside the bundle (``file``, ``sha256``, ...).
        onnx_int8: Record of an int8 ONNX export.
        evaluation: Figures recorded by ``evaluate --update-card``.
        reference: The training-distribution reference for the out-of-distribution check.
        cam: Whether maps come from the head alone (``separable``, ``gradient``, ``reason``).
        extra: Card keys this version does not know (preserved).
    """

    backbone: str
    preprocess: dict[str, Any]
    weights: dict[str, Any] = field(default_factory=dict)
    name: str = "cxr-miliary"
    head: str = "global"
    num_outputs: int = 1
    cam_target_layer: str | None = None
    temperature: float = 1.0
    threshold: float = 0.5
    threshold_rule: dict[str, Any] = field(default_factory=dict)
    label: dict[str, Any] = field(default_factory=dict)
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    software: dict[str, Any] = field(default_factory=dict)
    intended_use: str = "research only; not a medical device; not for diagnosis"
    format_version: int = FORMAT_VERSION
    onnx: dict[str, Any] | None = None
    onnx_int8: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    reference: dict[str, Any] | None = None
    cam: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, where: str = CARD) -> Card:
        """Check ``d`` against the schema and build the card.

        Raises:
            BundleError: Wrong types, values out of range, names that could leave the
                bundle folder or reach the network.
        """
        if not isinstance(d, dict):
            raise BundleError(f"{where}: the card must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        for key in ("backbone", "preprocess", "weights"):
            if key not in d:
                raise BundleError(f"{where}: missing '{key}'")
        card = cls(**{k: v for k, v in d.items() if k in known}, extra={k: v for k, v in d.items() if k not in known})
        card.validate(where)
        return card

    def validate(self, where: str = CARD) -> None:
        """Raise :class:`BundleError` unless every field has the right type and range."""

        def bad(msg: str) -> BundleError:
            return BundleError(f"{where}: {msg}")

        if not isinstance(self.backbone, str) or not NAME_PATTERN.match(self.backbone):
            raise bad("'backbone' must be a timm model name (letters, digits, '_', '-', '.'; no hub prefixes or paths)")
        if not isinstance(self.head, str) or HEAD_ALIASES.get(self.head, self.head) not in HEADS:
            raise bad(f"'head' must be one of {', '.join(HEADS)}")
        self.head = HEAD_ALIASES.get(self.head, self.head)
        if not isinstance(self.name, str) or len(self.name) > 200:
            raise bad("'name' must be a string of at most 200 characters")
        if self.num_outputs != 1 or isinstance(self.num_outputs, bool):
            raise bad("'num_outputs' must be 1")
        pre = self.preprocess
        if not isinstance(pre, dict):
            raise bad("'preprocess' must be an object")
        size, chans = pre.get("image_size"), pre.get("channels", 1)
        if not _is_int(size) or not 32 <= size <= 4096:
            raise bad("'preprocess.image_size' must be an integer from 32 to 4096")
        if chans not in (1, 3) or isinstance(chans, bool):
            raise bad("'preprocess.channels' must be 1 or 3")
        for key, lo in (("mean", -10.0), ("std", 1e-6)):
            v = pre.get(key, 0.5 if key == "mean" else 0.25)
            if not _is_number(v) or not lo <= v <= 10.0:
                raise bad(f"'preprocess.{key}' must be a finite number in [{lo:g}, 10]")
        if pre.get("region", "film") not in REGIONS:
            raise bad(f"'preprocess.region' must be one of {', '.join(REGIONS)}")
        margin = pre.get("region_margin", REGION_MARGIN)
        if not _is_number(margin) or not 0.0 <= margin <= 0.5:
            raise bad("'preprocess.region_margin' must be a number from 0 to 0.5")
        if not _is_number(self.temperature) or not 0.01 <= self.temperature <= 100:
            raise bad("'temperature' must be a finite number from 0.01 to 100")
        if not _is_number(self.threshold) or not 0.0 <= self.threshold <= 1.0:
            raise bad("'threshold' must be a number from 0 to 1")
        if self.cam_target_layer is not None and (not isinstance(self.cam_target_layer, str) or not _MODULE_PATH.match(self.cam_target_layer)):
            raise bad("'cam_target_layer' must be a dotted module path")
        check_file_record(self.weights, ".safetensors", "weights", where)
        for key in ("onnx", "onnx_int8"):
            rec = getattr(self, key)
            if rec is not None:
                check_file_record(rec, ".onnx", key, where)
        for key in ("threshold_rule", "label", "training_data", "metrics", "software"):
            if not isinstance(getattr(self, key), dict):
                raise bad(f"'{key}' must be an object")
        for key in ("evaluation", "reference", "cam"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), dict):
                raise bad(f"'{key}' must be an object")
        if self.training_data.get("domain") is not None and self.training_data["domain"] not in DOMAINS:
            raise bad(f"'training_data.domain' must be one of {', '.join(DOMAINS)}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (unknown keys kept; absent optional records left out)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        d = {k: v for k, v in d.items() if not (v is None and k in ("onnx", "onnx_int8", "evaluation", "reference", "cam"))}
        return {**d, **self.extra}

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style read access (older code and user scripts treat the card as a dict)."""
        d = self.to_dict()
        return d.get(key, default)

    def __getitem__(self, key: str) -> Any:
        d = self.to_dict()
        if key not in d:
            raise KeyError(key)
        return d[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    @property
    def domain(self) -> str:
        """``"synthetic"``, ``"real"`` or ``"mixed"``: what the model was trained on.

        ``training_data.domain`` when the card records it; older cards are read as
        ``real`` unless their training description says phantoms or synthetic data (the
        first default model's does).
        """
        return training_domain(self.training_data)

    @property
    def image_size(self) -> int:
        """The network's square input side."""
        return int(self.preprocess["image_size"])

    @property
    def channels(self) -> int:
        """Input channels (1 or 3)."""
        return int(self.preprocess.get("channels", 1))

    @property
    def region(self) -> str:
        """What the network reads: ``film`` (older cards) or ``lungs`` (the lung box)."""
        return str(self.preprocess.get("region", "film"))

    def file(self, folder: Path, record: dict[str, Any]) -> Path:
        """A file a record names, resolved inside the bundle ``folder`` (never outside)."""
        return bundle_file(folder, record["file"])


def bundle_file(folder: str | os.PathLike[str], name: str) -> Path:
    """``folder/name`` with every symlink resolved, refused unless it still lies directly in the bundle folder."""
    folder = Path(folder)
    path = (folder / str(name)).resolve()
    if path.parent != folder.resolve():
        raise BundleError(f"{folder / CARD}: '{name}' is not a file inside the bundle (a path or a link leading out of it)")
    return path


def training_domain(training_data: dict[str, Any]) -> str:
    """A card's training domain (see :attr:`Card.domain`), from its ``training_data`` record."""
    recorded = training_data.get("domain")
    if recorded in DOMAINS:
        return str(recorded)
    text = " ".join(str(training_data.get(k, "")) for k in ("description", "manifest")).lower()
    return "synthetic" if "phantom" in text or "synthetic" in text else "real"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_file_record(rec: Any, suffix: str, key: str, where: str) -> None:
    """A card's ``{"file", "sha256"}`` record: a plain file name inside the bundle, a sha256 (BundleError if not)."""
    if not isinstance(rec, dict):
        raise BundleError(f"{where}: '{key}' must be an object with 'file' and 'sha256'")
    name = rec.get("file", WEIGHTS if key == "weights" else None)
    if key == "weights":
        rec.setdefault("file", WEIGHTS)
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or name in (".", "..") or not name.endswith(suffix):
        raise BundleError(f"{where}: '{key}.file' must be a plain *{suffix} file name inside the bundle folder")
    if not isinstance(rec.get("sha256"), str) or not _SHA256.match(rec["sha256"]):
        raise BundleError(f"{where}: '{key}.sha256' must be 64 lower-case hex digits")


def read_card_json(path: Path) -> Any:
    """A card file's JSON: bounded in size, strict (no NaN/Infinity), every failure a BundleError."""
    if not path.is_file():
        raise BundleError(f"{path}: no card")
    if path.stat().st_size > MAX_CARD_BYTES:
        raise BundleError(f"{path}: {path.stat().st_size} bytes is too large for a card")
    try:
        return json.loads(path.read_bytes().decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({str(exc)[:200]})") from None
    except RecursionError:
        raise BundleError(f"{path}: nested too deeply to be a card") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
