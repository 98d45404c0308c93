"""Is this input a frontal chest radiograph we should score? Header-level checks.

Each check returns a rejection (code, reason) or a warning. Rejections stop
:func:`~cxr_miliary.io.load_image` unless ``force=True``; a missing tag is never a
rejection, only an "unverified" warning, because many real archives strip tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Modalities that produce projection radiographs. "DR" is not a DICOM code but some
#: vendors write it.
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR"})
#: Secondary Capture Image Storage: how digitised films, research sets and workstation exports arrive.
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
#: What a Secondary Capture of a radiograph says as its Modality (OT: other; or none): the pixels decide.
SC_MODALITIES = frozenset({"OT", "SC"})

#: Body Part Examined values that mean the chest (English, Spanish — PadChest — and
#: common vendor spellings). Compared after upper-casing and stripping.
CHEST_BODY_PARTS = frozenset(
    {
        "CHEST",
        "THORAX",
        "TORAX",
        "TÓRAX",
        "PECHO",
        "LUNG",
        "LUNGS",
        "CHEST_PA",
        "CHEST PA",
        "CHEST_AP",
        "CHEST AP",
        "THORACIC",
        "TORACE",
        "THORAX PA",
        "POUMON",
        "BRUST",
    }
)

#: View Position values that mean a lateral projection.
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLAT", "RLAT"})

#: View Position values that mean a frontal projection.
FRONTAL_VIEWS = frozenset({"PA", "AP", "AP_HORIZONTAL", "APS", "PAS", "AP SUPINE", "PA ERECT"})

#: SOP Class UIDs of "For Processing" (raw detector) images.
FOR_PROCESSING_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image Storage - For Processing
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography - For Processing
        "1.2.840.10008.5.1.4.1.1.1.3.1",  # Digital Intra-Oral X-Ray - For Processing
    }
)


@dataclass
class Verdict:
    """Outcome of the header checks."""

    rejections: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def reject(self, code: str, reason: str) -> None:
        """Record a rejection."""
        self.rejections.append((code, reason))


def _norm(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip().upper()
    return text or None


def check_header(
    *,
    modality: object = None,
    body_part: object = None,
    view: object = None,
    presentation_intent: object = None,
    sop_class_uid: object = None,
    samples_per_pixel: int | None = None,
    frames: int = 1,
    is_dicom: bool = True,
) -> Verdict:
    """Run every acceptance check on header values.

    Args:
        modality: DICOM Modality.
        body_part: Body Part Examined.
        view: View Position.
        presentation_intent: Presentation Intent Type.
        sop_class_uid: SOP Class UID.
        samples_per_pixel: Samples per Pixel.
        frames: Number of Frames.
        is_dicom: False for PNG/JPEG, which carry no such tags (only warnings then).

    Returns:
        A :class:`Verdict` with rejections and warnings.
    """
    v = Verdict()
    mod, part, vp = _norm(modality), _norm(body_part), _norm(view)
    if not is_dicom:
        v.warnings.append("modality, body part and view unverified (no DICOM header)")
        return v
    if str(sop_class_uid or "") == SECONDARY_CAPTURE and (mod is None or mod in SC_MODALITIES):
        v.warnings.append("secondary capture: the header does not say what the image shows; the pixel checks decide")
    elif mod is None:
        v.warnings.append("modality unverified (tag missing)")
    elif mod not in RADIOGRAPH_MODALITIES:
        v.reject("modality", f"modality {mod} is not a projection radiograph (expected CR or DX)")
    if part is None:
        v.warnings.append("body part unverified (tag missing)")
    elif part not in CHEST_BODY_PARTS and not any(k in part for k in ("CHEST", "THORA", "TORA")):
        v.reject("body-part", f"body part {part} is not the chest")
    if vp is None:
        v.warnings.append("view unverified (View Position missing)")
    elif vp in LATERAL_VIEWS:
        v.reject("lateral-view", f"view {vp} is a lateral projection; a frontal (PA/AP) view is needed")
    elif vp not in FRONTAL_VIEWS:
        v.warnings.append(f"view {vp} is not a standard frontal view")
    intent = _norm(presentation_intent)
    if intent == "FOR PROCESSING" or str(sop_class_uid or "") in FOR_PROCESSING_SOP_CLASSES:
        v.reject("for-processing", "a 'For Processing' (raw detector) image; send the 'For Presentation' image")
    if samples_per_pixel is not None and samples_per_pixel > 1:
        v.reject("multi-sample", f"{samples_per_pixel} samples per pixel (colour); a greyscale radiograph is needed")
    if frames > 1:
        v.reject("multi-frame", f"{frames} frames; a single-frame radiograph is needed")
    return v
