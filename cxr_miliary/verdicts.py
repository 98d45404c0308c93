"""One wording per verdict: the codes and sentences every output uses for trust.

A result that cannot be taken at face value says so first, in the same words, wherever
it appears: the text summary, the JSON's warnings, the overlay caption and the DICOM
SR. The reasons are ``code: words`` strings; the codes are stable (tables and scripts
filter on them), the words are for people. Nothing here imports anything heavy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

NOT_RELIABLE = "NOT RELIABLE"

#: Why a result is not reliable, in the order a reader should hear them: the long form
#: leads the text and the SR, the short form the overlay caption.
UNRELIABLE: dict[str, tuple[str, str]] = {
    "synthetic-model": (
        "this model was trained only on synthetic phantoms and has never seen a real radiograph; "
        "train it on real data (docs/training.md: 'Training on your data')",
        "a phantom-trained model on a real film",
    ),
    "not-chest": ("the image failed the frontal-chest check and was scored only because --force was given", "not a frontal chest film"),
    "orientation": ("the film is not upright and was scored only because --force was given", "the film is not upright"),
    "polarity-suspect": ("the image's grey levels look inverted (polarity suspect); it was not flipped", "inverted grey levels?"),
    "partial-film": ("the lung fields run off the edge of the film (a part of a film, or lungs cut off)", "lungs cut off at the film's edge"),
    "lungs-unsure": (
        "the lung model is unsure of these lung fields (white lungs?); the fields, zones and map may miss part of the lungs",
        "lung fields unsure",
    ),
    "lung-region-fallback": (
        "the lung fields could not bound the lung region this model reads, so it read the whole film, which it was not trained on",
        "whole film read, not the lungs",
    ),
    "out-of-distribution": ("this image is unlike the model's training data", "unlike the training data"),
}
#: Reason codes of the frontal-chest check (a refusal unless forced).
CHEST_CODES = ("orientation", "lung-fields", "mediastinum", "body", "aspect")
#: Notes that do not make a result unreliable.
NOTE_CODES = ("no-reference", "no-features")


def reason(code: str, words: str) -> str:
    """A reason string, ``code: words``."""
    return f"{code}: {words}"


def code_of(text: str) -> str:
    """The code of a ``code: words`` reason."""
    return text.split(":", 1)[0].strip()


def unreliable_codes(codes: Iterable[str]) -> list[str]:
    """The codes among ``codes`` that make a result unreliable, most important first."""
    present = set(codes)
    return [c for c in UNRELIABLE if c in present]


def integrity_codes(integrity: dict[str, Any]) -> list[str]:
    """The reason codes of a result's ``integrity`` record (out-of-distribution included when it says so)."""
    codes = [code_of(str(r)) for r in integrity.get("reasons") or []]
    if integrity.get("in_distribution") is False and "out-of-distribution" not in codes:
        codes.append("out-of-distribution")
    return codes


def unreliable_sentence(codes: Iterable[str] | dict[str, Any]) -> str:
    """``NOT RELIABLE: <why>. Its probability is not to be taken at face value.``: the line that leads an unreliable result.

    ``codes``: the reason codes, or a result's ``integrity`` record (:func:`integrity_codes`).
    """
    found = unreliable_codes(integrity_codes(codes) if isinstance(codes, dict) else codes)
    why = "; ".join(UNRELIABLE[c][0] for c in found) if found else "the checks on this image failed"
    return f"{NOT_RELIABLE}: {why}. Its probability is not to be taken at face value."


def caption(probability: float, positive: bool, pattern: str, codes: Iterable[str] | bool = (), *, reliable: bool | None = None) -> str:
    """The line burned into every overlay (and the SC): the result and the disclaimer, led by NOT RELIABLE when it is not.

    ``codes`` are the result's reason codes. The first API passed ``reliable`` (a flag,
    also accepted in place of the codes): False marks the result unreliable without
    saying why.
    """
    text = f"p={probability:.3f} {'POSITIVE' if positive else 'negative'} ({pattern}) - not for diagnostic use"
    if isinstance(codes, bool):
        reliable, codes = codes, ()
    found = unreliable_codes(codes)
    if reliable is False and not found:
        return f"{NOT_RELIABLE} (the checks on this image failed) - {text}"
    if not found:
        return text
    return f"{NOT_RELIABLE} ({'; '.join(UNRELIABLE[c][1] for c in found)}) - {text}"
