"""Input integrity: is it a frontal chest film, and is it what this model knows?

Two questions, answered for every image ``predict`` and ``score`` see:

1. *Frontal chest?* :mod:`.chest_check`, on the decoded pixels and the lung fields. No:
   the image is rejected with code ``not-chest`` (``--force`` scores it anyway, with the
   reason in the warnings and ``reliable: false``). A film that only passes with its grey
   levels inverted is a chest film with the warning ``polarity-suspect``.
2. *In distribution?* The Mahalanobis distance of the image's pooled features (from the
   same forward pass) to the bundle's training reference
   (:mod:`cxr_miliary.models.reference`), against the limit the card states. Beyond it,
   the probability is kept but marked unreliable, and the differential and work-up are
   withheld (they would read as advice).

3. *Has this model seen anything like it at all?* A bundle trained only on synthetic
   phantoms (its card's ``training_data.domain`` is ``synthetic``) has never seen a real
   radiograph, and a network cannot tell from its own features that a real film is
   foreign to it (features of real films sat inside phantom references at every stage
   of the default network). On an image that is not itself a phantom its result is
   ``reliable: false`` with the reason ``synthetic-model``, whatever the distance says.

``reliable`` = frontal chest, polarity not suspect, not out of distribution, and not a
synthetic-only model on a real image. A bundle without a reference gets
``in_distribution: null`` and a note; everything else works. The words are
:mod:`cxr_miliary.verdicts`'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import verdicts
from ..io import RejectedImageError
from ..models.reference import Reference, pool
from .chest_check import ChestVerdict, check_frontal_chest

NO_REFERENCE_NOTE = verdicts.reason(
    "no-reference", "this bundle carries no reference of its training data; the out-of-distribution check was not run"
)
NO_FEATURES_NOTE = verdicts.reason("no-features", "this runtime gives no features; the out-of-distribution check was not run")
SYNTHETIC_MODEL = verdicts.reason("synthetic-model", verdicts.UNRELIABLE["synthetic-model"][0])


@dataclass
class Integrity:
    """The integrity of one image.

    Attributes:
        frontal_chest: The pixel check's answer.
        in_distribution: Within the reference's limit (None: no reference or no features).
        ood_score: Mahalanobis distance to the training reference.
        ood_limit: The bundle's limit.
        reasons: Why an answer is no, or notes (``code: words``).
        polarity_suspect: Passed the chest check only inverted.
        model_domain: What the bundle was trained on (``synthetic``, ``real``, ``mixed``).
        synthetic_image: The image says it is a phantom (its file's provenance).
        forced: The chest check said no and ``--force`` scored it anyway.
        partial: The lung fields run off the film's top or bottom edge.
        lungs_unsure: The lung model is unsure of the fields (white lungs, mostly): a chest
            film the check let through on its orientation head's word.
        region_fallback: A lung-region bundle read the whole film (the fields gave no box).
    """

    frontal_chest: bool
    in_distribution: bool | None = None
    ood_score: float | None = None
    ood_limit: float | None = None
    reasons: list[str] = field(default_factory=list)
    polarity_suspect: bool = False
    model_domain: str = "real"
    synthetic_image: bool = False
    forced: bool = False
    partial: bool = False
    region_fallback: bool = False
    lungs_unsure: bool = False

    @property
    def synthetic_model(self) -> bool:
        """A model that has only seen phantoms, on an image that is not one."""
        return self.model_domain == "synthetic" and not self.synthetic_image

    @property
    def reliable(self) -> bool:
        """Whether the probability can be taken at face value."""
        return (
            self.frontal_chest
            and not self.polarity_suspect
            and not self.partial
            and not self.lungs_unsure
            and not self.region_fallback
            and self.in_distribution is not False
            and not self.synthetic_model
        )

    @property
    def codes(self) -> list[str]:
        """The reasons' codes."""
        return [verdicts.code_of(r) for r in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        """The ``integrity`` object of the prediction JSON (strict JSON: finite numbers or null)."""
        return {
            "frontal_chest": self.frontal_chest,
            "in_distribution": self.in_distribution,
            "ood_score": None if self.ood_score is None else round(float(self.ood_score), 4),
            "ood_limit": None if self.ood_limit is None else round(float(self.ood_limit), 4),
            "model_domain": self.model_domain,
            "synthetic_image": self.synthetic_image,
            "reasons": list(self.reasons),
        }


def chest_verdict(path: str, pixels: np.ndarray, lungs: Any, force: bool) -> ChestVerdict:
    """The frontal-chest check, reusing the lung fields already found; raises ``not-chest`` unless forced.

    Raises:
        RejectedImageError: Code ``not-chest`` (with the first reason) when not forced.
    """
    from ..explain import lung_fields

    verdict = check_frontal_chest(pixels, lambda px: lungs if px is pixels else lung_fields(px))
    if not verdict.frontal_chest and not force:
        raise RejectedImageError(path, *rejection(verdict))
    return verdict


def rejection(verdict: ChestVerdict) -> tuple[str, str]:
    """``(code, reason)`` of a film the frontal-chest check refuses: ``orientation`` for a turned film, else ``not-chest``."""
    first = verdict.reasons[0]
    if first.startswith("orientation:"):
        return "orientation", f"the film is not upright ({first.split(': ', 1)[1]})"
    return "not-chest", f"not a frontal chest radiograph ({first})"


def assess(
    verdict: ChestVerdict,
    activations: np.ndarray | None,
    reference: Reference | None,
    *,
    model_domain: str = "real",
    synthetic_image: bool = False,
    forced: bool = False,
    region_fallback: bool = False,
) -> Integrity:
    """Combine the chest verdict, the out-of-distribution check and the training domain for one image.

    Args:
        verdict: The frontal-chest check's verdict.
        activations: The CAM layer's activations of this image (C, h, w), or None.
        reference: The bundle's training-distribution reference, or None.
        model_domain: The bundle's training domain (:func:`cxr_miliary.models.Card.domain`).
        synthetic_image: The image is a phantom (``ImageMeta.synthetic``).
        forced: ``--force`` was given (a failed chest check is then scored, and marked).
        region_fallback: A lung-region bundle read the whole film.
    """
    out = Integrity(
        verdict.frontal_chest,
        reasons=list(verdict.reasons),
        polarity_suspect=verdict.polarity_suspect,
        partial=verdict.partial,
        lungs_unsure=verdict.lungs_unsure,
        model_domain=model_domain,
        synthetic_image=synthetic_image,
        forced=forced and not verdict.frontal_chest,
        region_fallback=region_fallback,
    )
    if region_fallback:
        out.reasons.append(verdicts.reason("lung-region-fallback", verdicts.UNRELIABLE["lung-region-fallback"][0]))
    if out.forced:
        code, _ = rejection(verdict)
        out.reasons.insert(0, verdicts.reason(code, "scored only because --force was given"))
    if out.synthetic_model:
        out.reasons.insert(0, SYNTHETIC_MODEL)
    if reference is None:
        out.reasons.append(NO_REFERENCE_NOTE)
        return out
    if activations is None:
        out.reasons.append(NO_FEATURES_NOTE)
        return out
    score = float(reference.distance(pool(activations[None] if activations.ndim == 3 else activations))[0])
    out.ood_score, out.ood_limit = score, reference.limit
    out.in_distribution = bool(score <= reference.limit)
    if not out.in_distribution:
        out.reasons.append(
            verdicts.reason("out-of-distribution", f"distance {score:.1f} to the training data exceeds the limit {reference.limit:.1f}")
        )
    return out


def warnings_for(integrity: Integrity, training_data: str = "") -> list[str]:
    """The plain-language warnings an image's integrity adds to its result (the same strings in ``predict`` and ``score``)."""
    out = []
    if integrity.synthetic_model:
        out.append(SYNTHETIC_MODEL)
    if not integrity.frontal_chest:
        first = next((r for r in integrity.reasons if verdicts.code_of(r) in verdicts.CHEST_CODES), "")
        code, why = rejection(ChestVerdict(False, reasons=[first or "not-chest: the frontal-chest check failed"]))
        out.append(f"accepted with --force despite: {code}: {why}" if integrity.forced else f"{code}: {why}")
    if integrity.polarity_suspect:
        out.append(next(r for r in integrity.reasons if r.startswith("polarity-suspect")))
    if integrity.partial:
        out.append(next(r for r in integrity.reasons if r.startswith("partial-film")))
    if integrity.lungs_unsure:
        out.append(next(r for r in integrity.reasons if r.startswith("lungs-unsure")))
    if integrity.region_fallback:
        out.append(next(r for r in integrity.reasons if r.startswith("lung-region-fallback")))
    if integrity.in_distribution is False:
        what = training_data or "its training data"
        out.append(f"out-of-distribution: this image is unlike the model's training data ({what}); its probability is not reliable")
    return out


def build_reference(
    predictor: Any, train: list[str], val: list[str], *, quantile: float | None = None, data: str = "", batch_size: int = 16
) -> dict[str, Any]:
    """Compute a bundle's training-distribution reference from images and store it in the bundle.

    Args:
        predictor: A Predictor loaded from the bundle folder (its runtime gives the features).
        train: Training images (the mean and covariance are fitted on them).
        val: Validation images (the limit is their ``quantile`` distance).
        quantile: Quantile of the validation distances used as the limit (default 0.99).
        data: What the images are, for the card.
        batch_size: Images per forward.

    Returns:
        The card's ``reference`` record (also written, with ``reference.safetensors``).
    """
    from ..io import ImageError, load_image
    from ..models import update_card
    from ..models.reference import QUANTILE, fit_reference, save_reference

    def features(paths: list[str]) -> np.ndarray:
        rows = []
        for i in range(0, len(paths), batch_size):
            x = []
            for p in paths[i : i + batch_size]:
                try:
                    x.append(predictor.inputs(load_image(p)))
                except ImageError:
                    continue  # an unreadable image has no features; the counts say how many were used
            if x:
                acts = predictor.runtime.forward(np.stack(x)).activations
                if acts is None:
                    raise ValueError(f"the runtime {predictor.runtime.name} gives no features; load the bundle with precision='fp32'")
                rows.append(pool(acts))
        return np.concatenate(rows) if rows else np.zeros((0, 0))

    if predictor.bundle_dir is None:
        raise ValueError("the predictor was not loaded from a bundle folder")
    f_train, f_val = features(train), features(val)
    ref = fit_reference(f_train, f_val, quantile or QUANTILE)
    record = save_reference(predictor.bundle_dir, ref, predictor.cam_layer_name or "", len(f_train), len(f_val), data)
    update_card(predictor.bundle_dir, reference=record)
    predictor.card.reference, predictor.reference = record, ref
    return record
