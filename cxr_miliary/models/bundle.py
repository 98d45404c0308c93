"""Model bundles: ``model.safetensors`` + ``card.json`` (+ ``MODEL_CARD.md``). No pickle, ever.

The card holds everything inference needs (backbone, preprocessing, CAM target layer,
temperature, threshold and its rule, label definition, training data summary, metrics,
software versions, the weights' sha256). This module owns it: :class:`Card` is its typed
form (what timm's ``PretrainedCfg`` is to timm), checked against a schema *before*
anything is allocated, and :func:`update_card` is the one way to change a written card
(atomically, regenerating ``MODEL_CARD.md``). Loading verifies the sha256, reads the
safetensors header before the tensors, builds the network with
:func:`~cxr_miliary.models.factory.create_model` from timm's local registry only, and
never imports Lightning or unpickles anything. Every refusal is a :class:`BundleError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import struct
from pathlib import Path
from typing import Any

from .. import strict_json
from ..atomic import write_text
from ..io.files import sha256_file  # re-exported: models.sha256_file is how the rest of the package names it
from .card import (  # noqa: F401 - re-exported: the card's names were first imported from here
    CARD,
    DOMAINS,
    FORMAT_VERSION,
    HEAD_ALIASES,
    HEADS,
    HUMAN_CARD,
    MAX_CARD_BYTES,
    MAX_HEADER_BYTES,
    MAX_PARAMETERS,
    NAME_PATTERN,
    PICKLE_SUFFIXES,
    WEIGHTS,
    BundleError,
    Card,
    bundle_file,
    canonical_head,
    check_file_record,
    read_card_json,
    training_domain,
)


# --- reading and writing ----------------------------------------------------------------
def bundle_folder(bundle: str | os.PathLike[str]) -> Path:
    """The bundle folder for a folder or its ``card.json``; pickle files are refused."""
    path = Path(bundle)
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise BundleError(f"{path}: pickle-based weights are refused (they can run code); export a bundle with 'cxr-miliary export-bundle'")
        if path.name != CARD:
            raise BundleError(f"{path}: not a bundle folder (expected {CARD} and {WEIGHTS})")
        path = path.parent
    if not (path / CARD).is_file():
        pickles = [p.name for p in path.glob("*") if p.suffix.lower() in PICKLE_SUFFIXES] if path.is_dir() else []
        hint = f"; found pickle files {pickles}, which are refused" if pickles else ""
        raise BundleError(f"{path}: no {CARD} here{hint}")
    return path


def load_card(bundle: str | os.PathLike[str]) -> Card:
    """Read and check ``card.json`` of a bundle folder."""
    path = bundle_folder(bundle) / CARD
    return Card.from_dict(read_card_json(path), str(path))


def read_card(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    """The card as a plain dict (checked). Kept for callers of the first API."""
    return load_card(bundle).to_dict()


def write_card(folder: Path, card: Card) -> None:
    """Write ``card.json`` and ``MODEL_CARD.md`` atomically (temporary file + rename)."""
    from .model_card import human_card

    card.validate(str(folder / CARD))
    write_text(folder / CARD, strict_json.dumps(card.to_dict(), indent=2) + "\n")
    write_text(folder / HUMAN_CARD, human_card(card.to_dict()))


def update_card(bundle: str | os.PathLike[str], **changes: Any) -> Card:
    """Change fields of a written card (unknown keys go to ``extra``); the one writer after export."""
    folder = bundle_folder(bundle)
    card = load_card(folder)
    known = {f.name for f in dataclasses.fields(Card)} - {"extra"}
    for key, value in changes.items():
        if key in known:
            setattr(card, key, value)
        else:
            card.extra[key] = value
    write_card(folder, card)
    return card


def save_bundle(model: Any, out_dir: str | os.PathLike[str], card: dict[str, Any] | Card, human_card: str | None = None) -> Path:
    """Write the weights (safetensors) and the card; the card records their sha256.

    Args:
        model: The network (its ``state_dict`` is saved, contiguous, on CPU).
        out_dir: Bundle folder (created).
        card: Card fields; ``format_version`` and ``weights`` are filled in here.
        human_card: Markdown for ``MODEL_CARD.md`` (default: generated from the card).

    Returns:
        The bundle folder.
    """
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = out / (WEIGHTS + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, out / WEIGHTS)
    d = card.to_dict() if isinstance(card, Card) else dict(card)
    d.update(format_version=FORMAT_VERSION, weights={"file": WEIGHTS, "sha256": sha256_file(out / WEIGHTS)})
    write_card(out, Card.from_dict(d, str(out / CARD)))
    if human_card:
        write_text(out / HUMAN_CARD, human_card)
    return out


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, checked against the file before any tensor is read."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise BundleError(f"{path}: too short to be a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > min(MAX_HEADER_BYTES, size - 8):
            raise BundleError(f"{path}: not a safetensors file (header length {n} exceeds the file)")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BundleError(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise BundleError(f"{path}: not a safetensors file (header is not an object)")
    data = size - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            lo, hi = (int(v) for v in info["data_offsets"])
            count = math.prod(int(s) for s in info["shape"])
        except (TypeError, KeyError, ValueError):
            raise BundleError(f"{path}: tensor {key[:80]!r} has a malformed header entry") from None
        if not 0 <= lo <= hi <= data or count < 0 or count > MAX_PARAMETERS:
            raise BundleError(f"{path}: tensor {key[:80]!r} lies outside the file or is impossibly large")
    return header


#: The most members a fold ensemble may have (a card asking for more is refused before anything is built).
MAX_MEMBERS = 32


def ensemble_members(card: Card) -> int:
    """How many fold models the bundle's network averages (1: an ordinary bundle).

    Raises:
        BundleError: A malformed ``ensemble`` record.
    """
    rec = card.get("ensemble")
    if rec is None:
        return 1
    k = rec.get("members") if isinstance(rec, dict) else None
    if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= MAX_MEMBERS:
        raise BundleError(f"card.json: 'ensemble.members' must be a whole number from 2 to {MAX_MEMBERS}")
    return k


def build_network(card: Card) -> Any:
    """The untrained network a card describes: one timm model, or a fold ensemble of them."""
    from .factory import create_ensemble, create_model

    k = ensemble_members(card)
    if k > 1:
        return create_ensemble(card.backbone, k, in_chans=card.channels, head=card.head)
    return create_model(card.backbone, in_chans=card.channels, head=card.head)


def _check_against_network(card: Card, header: dict[str, Any], where: Path) -> None:
    """Build the network on the meta device (no memory) and compare it with the file's tensors."""
    import torch

    backbone = card.backbone
    with torch.device("meta"):
        net = build_network(card)
    n_params = sum(p.numel() for p in net.parameters())
    if n_params > MAX_PARAMETERS:
        raise BundleError(f"{where}: {backbone} has {n_params / 1e6:.0f} M parameters, over the limit of {MAX_PARAMETERS / 1e6:.0f} M")
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    found = {k.replace("head.zone.", "head.cell."): tuple(int(s) for s in v["shape"]) for k, v in header.items() if k != "__metadata__"}
    if expected != found:
        missing = sorted(set(expected) - set(found))[:3]
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])[:3]
        raise BundleError(
            f"{where}: weights do not fit {backbone} (missing {missing}, shape mismatch {wrong}, {len(set(found) - set(expected))} unexpected)"
        )


def check_weights(folder: Path, card: Card) -> tuple[Path, dict[str, Any]]:
    """The weights file: inside the bundle, present, its sha256 the card's, its safetensors header sound (no torch needed)."""
    weights = card.file(folder, card.weights)
    if not weights.is_file():
        raise BundleError(f"{weights}: weights file missing")
    digest = sha256_file(weights)
    if digest != card.weights["sha256"]:
        raise BundleError(f"{weights}: sha256 {digest[:12]}… does not match the card ({card.weights['sha256'][:12]}…); the file was changed")
    header = safetensors_header(weights)
    layer = card.cam_target_layer
    # the CAM layer is a feature stage, so its parameters are in the file: checked here without
    # torch, so a torch-free load (a cached ONNX verdict) refuses a bogus layer as early; an
    # ensemble's layer is its members' features side by side, holding no weights of its own
    if ensemble_members(card) > 1:
        if layer != "features" or not any(name.startswith("members.1.") for name in header):
            raise BundleError(f"{folder / CARD}: an ensemble's cam_target_layer is 'features' and its file holds every member")
    elif layer is not None and not any(name.startswith(layer + ".") for name in header if name != "__metadata__"):
        raise BundleError(f"{folder / CARD}: cam_target_layer {layer!r} is not a module of {card.backbone} with weights in the file")
    return weights, header


def load_bundle(bundle: str | os.PathLike[str]) -> tuple[Any, Card]:
    """Load a bundle: check the card, verify the sha256, check the file against the network, load strictly.

    Returns:
        ``(model in eval mode, card)``.

    Raises:
        BundleError: Missing files, sha256 mismatch, pickle files, malformed card or
            header, unknown backbone or layer, incompatible weights.
    """
    import timm
    from safetensors.torch import load_file

    folder = bundle_folder(bundle)
    card = load_card(folder)
    weights, header = check_weights(folder, card)
    if not timm.is_model(card.backbone):
        raise BundleError(f"{folder / CARD}: backbone {card.backbone!r} is not a model this timm ({timm.__version__}) knows")
    _check_against_network(card, header, weights)
    try:
        model = build_network(card)
        model.load_state_dict(load_file(str(weights)), strict=True)
    except Exception as exc:  # the checks above should have caught it; never a raw error
        raise BundleError(f"{weights}: weights do not load into {card.backbone} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    if card.cam_target_layer is not None:
        try:
            model.get_submodule(card.cam_target_layer)
        except AttributeError:
            raise BundleError(f"{folder / CARD}: cam_target_layer {card.cam_target_layer!r} is not a module of {card.backbone}") from None
    return model.eval(), card
