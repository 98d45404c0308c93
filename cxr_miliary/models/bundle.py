"""Model bundles: ``model.safetensors`` + ``card.json`` (+ ``MODEL_CARD.md``). No pickle, ever.

The card holds everything inference needs (backbone, preprocessing, CAM target layer,
temperature, threshold and its rule, label definition, training data summary, metrics,
software versions, the weights' sha256). Loading verifies the sha256 and rebuilds the
network with :func:`~cxr_miliary.models.factory.create_model`; it never imports Lightning
and never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch.nn as nn
from safetensors.torch import load_file, save_file

from .factory import create_model

CARD = "card.json"
WEIGHTS = "model.safetensors"
HUMAN_CARD = "MODEL_CARD.md"
FORMAT_VERSION = 1
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle")


class BundleError(Exception):
    """A bundle that is missing, tampered with, or not in the safe format."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(model: nn.Module, out_dir: str | os.PathLike[str], card: dict[str, Any], human_card: str | None = None) -> Path:
    """Write the weights (safetensors) and the card; the card records their sha256.

    Args:
        model: The network (its ``state_dict`` is saved, contiguous, on CPU).
        out_dir: Bundle folder (created).
        card: Card fields; ``format_version`` and ``weights`` are filled in here.
        human_card: Markdown for ``MODEL_CARD.md``.

    Returns:
        The bundle folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = out / (WEIGHTS + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, out / WEIGHTS)
    card = {**card, "format_version": FORMAT_VERSION, "weights": {"file": WEIGHTS, "sha256": sha256_file(out / WEIGHTS)}}
    (out / CARD).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    if human_card:
        (out / HUMAN_CARD).write_text(human_card)
    return out


def read_card(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and sanity-check ``card.json`` of a bundle folder (refusing pickle files)."""
    path = Path(bundle)
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise BundleError(f"{path}: pickle-based weights are refused (they can run code); export a bundle with 'cxr-miliary export-bundle'")
        if path.name == CARD:
            path = path.parent
        else:
            raise BundleError(f"{path}: not a bundle folder (expected {CARD} and {WEIGHTS})")
    if not (path / CARD).is_file():
        pickles = [p.name for p in path.glob("*") if p.suffix.lower() in PICKLE_SUFFIXES] if path.is_dir() else []
        hint = f"; found pickle files {pickles}, which are refused" if pickles else ""
        raise BundleError(f"{path}: no {CARD} here{hint}")
    try:
        card = json.loads((path / CARD).read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path / CARD}: not valid JSON ({exc})") from None
    for key in ("backbone", "preprocess", "weights"):
        if key not in card:
            raise BundleError(f"{path / CARD}: missing '{key}'")
    return card


def load_bundle(bundle: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """Load a bundle: verify the sha256, build the network, load the weights strictly.

    Returns:
        ``(model in eval mode, card)``.

    Raises:
        BundleError: Missing files, sha256 mismatch, pickle files, incompatible weights.
    """
    card = read_card(bundle)
    folder = Path(bundle) if Path(bundle).is_dir() else Path(bundle).parent
    weights = folder / card["weights"].get("file", WEIGHTS)
    if weights.suffix != ".safetensors":
        raise BundleError(f"{weights}: only .safetensors weights are loaded")
    if not weights.is_file():
        raise BundleError(f"{weights}: weights file missing")
    digest = sha256_file(weights)
    if digest != card["weights"].get("sha256"):
        raise BundleError(f"{weights}: sha256 {digest[:12]}… does not match the card ({str(card['weights'].get('sha256'))[:12]}…); the file was changed")
    # bundles written before the zones head existed have no "head": timm's global pool
    model = create_model(card["backbone"], in_chans=int(card["preprocess"].get("channels", 1)), head=card.get("head", "global"))
    try:
        model.load_state_dict(load_file(str(weights)), strict=True)
    except RuntimeError as exc:
        raise BundleError(f"{weights}: weights do not fit {card['backbone']} ({str(exc).splitlines()[0]})") from None
    return model.eval(), card
