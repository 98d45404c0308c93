"""``Prediction``: one image's result, its JSON form and its short text form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import knowledge, verdicts


@dataclass
class Prediction:
    """One image's result. Arrays are at the decoded image's resolution.

    Attributes:
        probability: Calibrated probability of the miliary / reticulonodular pattern.
        positive: ``probability >= threshold``.
        threshold: The decision threshold used.
        logit: The network's raw logit.
        model: ``name``, ``sha256`` and ``runtime`` of the model that answered.
        cam: The map on the absolute scale (H x W, [0, 1]) when asked for.
        lung_mask: The lung fields (H x W bool) when the map was asked for.
        distribution: Left/right, six zones, involved zones and ``pattern``.
        warnings: Things a user should know.
        integrity: Is it a frontal chest film, is it what the model knows (see
            :mod:`cxr_miliary.inference.integrity`).
        reliable: False when the image is unlike the training data, its polarity is
            suspect, it failed the frontal-chest check (scored with ``force``), or the model
            has only seen phantoms and the image is a real film: the probability is then
            not to be trusted.
        differential: Differential diagnosis (positive and reliable only).
        recommendations: Next steps (positive and reliable only, or when uncertain).
        meta: What was decoded (no identifiers).
        region: ``[x0, y0, x1, y1]``: the part of the film the network read (the lung box, or the whole film).
    """

    probability: float
    positive: bool
    threshold: float
    logit: float
    model: dict[str, str]
    cam: np.ndarray | None = None
    lung_mask: np.ndarray | None = None
    distribution: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    integrity: dict[str, Any] | None = None
    reliable: bool = True
    differential: list[dict[str, Any]] | None = None
    recommendations: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    region: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``cxr-miliary predict`` prints (no arrays, no identifiers, no NaN)."""
        out: dict[str, Any] = {
            "probability": round(float(self.probability), 6),
            "positive": bool(self.positive),
            "threshold": round(float(self.threshold), 6),
            "model": self.model,
            "distribution": self.distribution,
            "warnings": self.warnings,
            "integrity": self.integrity,
            "reliable": bool(self.reliable),
        }
        if self.differential is not None:
            out["differential"] = self.differential
        if self.recommendations:
            out["recommendations"] = self.recommendations
        out["image"] = {k: self.meta.get(k) for k in ("source_format", "rows", "columns", "modality", "view", "pixel_spacing_mm", "synthetic")}
        if self.region is not None:
            out["region"] = list(self.region)
        out["disclaimer"] = knowledge.load()["disclaimer"]
        return out

    def to_text(self) -> str:
        """A short human-readable summary (``predict --format text``)."""
        return summary_text(self.to_dict())


def summary_text(d: dict[str, Any]) -> str:
    """A short human-readable summary of a prediction's JSON object (led by NOT RELIABLE when it is not)."""
    lines = []
    if not d.get("reliable", True):
        lines.append(verdicts.unreliable_sentence(d.get("integrity") or {}))
    lines.append(
        f"probability {d['probability']:.3f} (threshold {d['threshold']:.3f}): "
        f"{'POSITIVE' if d['positive'] else 'negative'} for the miliary / reticulonodular pattern"
    )
    dist = d.get("distribution")
    if dist:
        lines.append(
            f"distribution: {dist['pattern']} (right lung {dist['right']:.0%}, left lung {dist['left']:.0%}; "
            f"involved: {', '.join(dist['involved_zones']) or 'none'})"
        )
    for w in d.get("warnings", []):
        lines.append(f"warning: {w}")
    if d.get("differential"):
        lines.append("differential: " + "; ".join(f"{c['category']}: {', '.join(c['conditions'][:2])}" for c in d["differential"][:3]) + " ...")
    for r in d.get("recommendations") or []:
        lines.append(f"- {r}")
    lines.append(d["disclaimer"])
    return "\n".join(lines)
