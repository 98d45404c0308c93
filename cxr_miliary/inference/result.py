"""``Result``: one image's result, built in one place, for ``predict`` and ``score`` alike.

decode (:mod:`.decoding`) -> integrity -> forward -> map -> distribution -> knowledge:
:func:`complete` runs the model on a batch of decoded inputs and builds every
:class:`Result` from the same steps, whether the batch holds one image (``predict``) or
sixteen (``score``). ``to_prediction()`` gives what ``predict`` prints; ``to_row()`` the
``score`` row. They read the same fields, so the two commands cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import knowledge, verdicts
from ..explain import Explanation, explain
from .decoding import Decoded
from .integrity import Integrity, assess, warnings_for
from .prediction import Prediction
from .scorer import Scorer

#: Probabilities within this distance of the threshold are "uncertain": CT is suggested.
UNCERTAINTY_BAND = 0.15
#: Effective pixel size at the network's input above which a 2 mm nodule spans under
#: two pixels and may be invisible.
COARSE_MM = 1.0
#: How several strings share one table cell (warnings, reasons).
CELL_SEPARATOR = " | "


def cell_items(cell: str | None) -> list[str]:
    """The strings a table cell holds (``warnings``, ``reasons``): the inverse of joining them."""
    return [x for x in (cell or "").split(CELL_SEPARATOR) if x]


@dataclass
class Result:
    """One input's result (or its error).

    Attributes:
        index: Its position in the job.
        path: The input as given.
        error: ``"<code>: <reason>"`` when there is no result.
        probability: Calibrated probability.
        logit: The network's raw logit.
        positive: ``probability >= threshold``.
        threshold: The threshold used.
        model: ``name``, ``sha256``, ``runtime``.
        integrity: The checks' verdicts (:class:`~cxr_miliary.inference.integrity.Integrity`).
        warnings: What a user should know (decoder notes, integrity, the map, resolution).
        meta: What was decoded (no identifiers).
        explanation: The map, lung fields and distribution, when maps were asked for.
        differential: Differential diagnosis (positive and reliable only).
        recommendations: Next steps (positive and reliable only, or when uncertain).
        preview: The image copy overlays are drawn on (when maps are drawn).
        files: Paths of the files written for it (``cam_path``, ``overlay_path``, ``dicom_outputs``).
        region: ``(x0, y0, x1, y1)``: the part of the film the network read.
    """

    index: int
    path: str
    model: dict[str, str]
    threshold: float
    error: str = ""
    probability: float | None = None
    logit: float | None = None
    positive: bool | None = None
    integrity: Integrity | None = None
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    explanation: Explanation | None = None
    differential: list[dict[str, Any]] | None = None
    recommendations: list[str] | None = None
    preview: np.ndarray | None = None
    is_dicom: bool = False
    files: dict[str, Any] = field(default_factory=dict)
    region: tuple[int, int, int, int] | None = None

    @property
    def reliable(self) -> bool | None:
        """Whether the probability can be taken at face value (None for an error)."""
        return None if self.integrity is None else self.integrity.reliable

    @property
    def codes(self) -> list[str]:
        """The integrity reasons' codes."""
        return [] if self.integrity is None else self.integrity.codes

    @property
    def distribution(self) -> dict[str, Any] | None:
        """Left/right and six-zone fractions, involved zones and pattern (with a map)."""
        return None if self.explanation is None else self.explanation.distribution

    def caption(self) -> str:
        """The line burned into its overlay and Secondary Capture."""
        pattern = (self.distribution or {}).get("pattern", "not computed")
        return verdicts.caption(float(self.probability or 0.0), bool(self.positive), pattern, self.codes)

    def to_prediction(self, arrays: bool = True) -> Prediction:
        """What ``predict`` returns; with ``arrays`` the map and lung fields at the image's resolution."""
        if self.error:
            raise ValueError(f"{self.path}: no result ({self.error})")
        assert self.integrity is not None and self.probability is not None and self.logit is not None
        return Prediction(
            self.probability,
            bool(self.positive),
            self.threshold,
            self.logit,
            dict(self.model),
            cam=self.explanation.cam_at() if arrays and self.explanation is not None else None,
            lung_mask=self.explanation.lung_mask_at() if arrays and self.explanation is not None else None,
            distribution=self.distribution,
            warnings=list(self.warnings),
            integrity=self.integrity.to_dict(),
            reliable=self.integrity.reliable,
            differential=self.differential,
            recommendations=self.recommendations,
            meta=dict(self.meta),
            region=None if self.region is None else [int(v) for v in self.region],
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``predict`` prints (and the DICOM SR reports)."""
        return self.to_prediction(arrays=False).to_dict()

    def to_row(self) -> dict[str, Any]:
        """The ``score`` row (see :mod:`.table`); files written for it included."""
        row: dict[str, Any] = {
            "path": self.path,
            "probability": None if self.probability is None else round(float(self.probability), 6),
            "positive": self.positive,
            "threshold": self.threshold,
            "error": self.error,
            "frontal_chest": None,
            "in_distribution": None,
            "ood_score": None,
            "reliable": None,
            "reasons": "",
            "warnings": CELL_SEPARATOR.join(self.warnings),
            "model_name": self.model["name"],
            "model_sha256": self.model["sha256"],
            "model_runtime": self.model.get("runtime", ""),
            "image_rows": self.meta.get("rows"),
            "image_columns": self.meta.get("columns"),
            "region": "" if self.region is None else ",".join(str(int(v)) for v in self.region),
        }
        if self.integrity is not None:
            i = self.integrity
            row.update(
                frontal_chest=i.frontal_chest,
                in_distribution=i.in_distribution,
                ood_score=None if i.ood_score is None else round(i.ood_score, 4),
                reliable=i.reliable,
                reasons=CELL_SEPARATOR.join(i.reasons),
            )
        dist = self.distribution
        if dist is not None:
            row.update({"pattern": dist["pattern"], "right": dist["right"], "left": dist["left"], **dist["zones"]})
        row.update(self.files)
        return row


def error_result(scorer: Scorer, index: int, path: str, error: str) -> Result:
    """The result of an input that has none (unreadable, refused, its decoder died)."""
    return Result(index, path, dict(scorer.model), scorer.threshold, error=error)


def complete(
    scorer: Scorer,
    batch: list[Decoded],
    *,
    maps: bool = False,
    method: str = "gradcam",
    threshold: float | None = None,
) -> list[Result]:
    """Run the model on a batch of decoded inputs and build every result, in order.

    Args:
        scorer: The model.
        batch: Decoded inputs (errors among them pass through as error results).
        maps: Compute the map, the lung-restricted distribution and the overlay's preview.
        method: CAM method.
        threshold: Decision threshold (default: the bundle's).
    """
    thr = scorer.threshold if threshold is None else float(threshold)
    good = [d for d in batch if not d.error]
    out: dict[int, Result] = {d.index: error_result(scorer, d.index, d.path, d.error) for d in batch if d.error}
    if good:
        x = np.stack([d.inputs for d in good])
        fwd = scorer.runtime.forward(x, gradients=maps)
        probs = scorer.probability(fwd.logits)
        raw = scorer.maps(x, method, fwd) if maps and scorer.maps is not None else None
        for k, d in enumerate(good):
            out[d.index] = _one(
                scorer, d, float(fwd.logits[k]), float(probs[k]), None if fwd.activations is None else fwd.activations[k], raw, k, thr
            )
    return [out[d.index] for d in batch]


def _one(scorer: Scorer, d: Decoded, logit: float, p: float, activations: np.ndarray | None, raw: np.ndarray | None, k: int, thr: float) -> Result:
    assert d.meta is not None and d.verdict is not None and d.lungs is not None
    integrity = assess(
        d.verdict,
        activations,
        scorer.reference,
        model_domain=scorer.domain,
        synthetic_image=d.meta.synthetic,
        forced=d.forced,
        region_fallback=d.region_fallback,
    )
    result = Result(
        d.index,
        d.path,
        dict(scorer.model),
        thr,
        probability=p,
        logit=logit,
        positive=p >= thr,
        integrity=integrity,
        warnings=list(d.meta.warnings) + warnings_for(integrity, scorer.training_description),
        meta=d.meta.to_dict(),
        preview=d.preview,
        is_dicom=d.is_dicom,
        region=d.region,
    )
    if raw is not None:
        result.explanation = explain(raw[k], d.lungs, input_size=scorer.input_size, probability=p, positive=bool(result.positive), region=d.region)
        result.warnings += result.explanation.warnings
    _add_knowledge(result, d.meta.pixel_spacing_mm, d.shape, scorer.input_size)
    return result


def _add_knowledge(result: Result, spacing: tuple[float, float] | None, shape: tuple[int, int], input_size: int) -> None:
    """Resolution warning, differential and recommendations (withheld when unreliable)."""
    kb = knowledge.load()
    longest = max(shape)
    read = longest if result.region is None else max(result.region[2] - result.region[0], result.region[3] - result.region[1])
    effective = spacing[0] * read / input_size if spacing else None  # what one input pixel spans of what the network read
    if (effective is not None and effective > COARSE_MM) or (spacing is None and longest < 1024):
        result.warnings.append(kb["coarse_input_warning"])
    if not result.reliable:
        return  # a differential and a work-up would read as advice on a result we do not trust
    assert result.probability is not None
    if result.positive:
        result.differential = knowledge.differential()
        result.recommendations = list(kb["recommendations"])
    if abs(result.probability - result.threshold) <= UNCERTAINTY_BAND:
        result.recommendations = (result.recommendations or []) + [kb["uncertain_recommendation"]]
