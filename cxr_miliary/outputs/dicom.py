"""Results back to PACS as DICOM: a Secondary Capture overlay and a structured report.

The SR is a TID 1500 Measurement Report (:mod:`.report`, the default) or, with
``sr="basic"``, the first versions' Basic Text SR. These files, and only these, copy the
patient and study identifiers from the input: that is what lets PACS file them next to
the original study (same Study Instance UID, a new Series). Every other output of
cxr-miliary stays free of identifiers. Their UIDs derive from the source image's and the
model's: scoring the same image with the same model again gives the same objects (a PACS
or a restarted node files them once).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import validate_value

from ..atomic import atomic_path
from ..io.files import sha256_file as content_digest  # a re-sent image with other content gives other result objects
from ..io.phi import collect_phi_values, quarantined_warnings
from ..verdicts import unreliable_sentence

log = logging.getLogger(__name__)


SC_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR Storage
#: Patient/study attributes copied from the source so PACS files the result with the study.
COPIED = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)
DISCLAIMER = "NOT FOR DIAGNOSTIC USE - research software output (cxr-miliary), not a medical device"


#: The SRs ``sr=`` can ask for.
SR_KINDS = ("tid1500", "basic")


#: Patient and study attributes every object must carry, empty when unknown.
TYPE_2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


#: The source's Type 1 UIDs a result refers to: without valid ones there is nothing to attach it to.
SOURCE_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


class InvalidSourceError(ValueError):
    """The source's identifying UIDs are missing or invalid: no DICOM result can refer to it."""


def valid_uid(value: object) -> bool:
    """Whether ``value`` is one valid DICOM UID (digits and dots, no leading zeros, at most 64 characters)."""
    return isinstance(value, str) and not isinstance(value, (list, tuple)) and bool(value) and UID(value).is_valid


def uid_problem(ds: Dataset) -> str | None:
    """Which of the Type 1 UIDs (:data:`SOURCE_UIDS`) is missing or invalid (the keyword and why; never the value), or None."""
    for kw in SOURCE_UIDS:
        try:
            value = ds.get(kw)
        except Exception:  # a value pydicom cannot even parse
            return f"{kw} cannot be read"
        if value is None or value == "":
            return f"{kw} is missing"
        if not valid_uid(value):
            return f"{kw} is not a valid UID" if isinstance(value, str) else f"{kw} has {len(value)} values (one is required)"
    return None


def result_uid(src: Dataset, model_sha256: str, kind: str, content: str = "") -> str:
    """A result object's UID: the same source image (UIDs and content) and model always give the same one."""
    return generate_uid(entropy_srcs=[str(src.get("StudyInstanceUID", "")), str(src.get("SOPInstanceUID", "")), model_sha256, kind, "v1", content])


def evidence(src: Dataset) -> Dataset:
    """The source header a result refers to and copies from: identifiers that are valid for their types, the rest present and empty.

    Raises:
        InvalidSourceError: A Type 1 UID (:data:`SOURCE_UIDS`) is missing or invalid: an
            invented one would file the result in another study each time it is written.
    """
    problem = uid_problem(src)
    if problem:
        raise InvalidSourceError(f"invalid-uid: the image's {problem}; no DICOM result can refer to it")
    ds = Dataset()
    for kw in (*SOURCE_UIDS, "Modality"):
        if kw in src:
            setattr(ds, kw, src.get(kw))
    for kw in COPIED:
        if kw in src:
            value = _valid_value(src, kw)
            if value is not None:
                setattr(ds, kw, value)
    for kw in TYPE_2:
        if kw not in ds:
            setattr(ds, kw, "")  # type 2: present, possibly empty
    return ds


def _base(src: Dataset, sop_class: str, modality: str, series_desc: str, series_number: int, sop_uid: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    for kw in COPIED:
        if kw in src:
            setattr(ds, kw, src.get(kw))
    for kw in TYPE_2:
        if kw not in ds:
            setattr(ds, kw, "")  # type 2: present, possibly empty
    now = dt.datetime.now()
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[sop_uid, "series"])
    ds.SeriesNumber = series_number
    ds.InstanceNumber = 1
    ds.Modality = modality
    ds.BodyPartExamined = "CHEST"  # not a paired structure, so no Laterality (type 2C)
    ds.SeriesDescription = series_desc
    ds.Manufacturer = "cxr-miliary"
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    ds.SpecificCharacterSet = "ISO_IR 192"
    return ds


def secondary_capture(src: Dataset, overlay_rgb: np.ndarray, sop_uid: str | None = None) -> Dataset:
    """The overlay (probability and disclaimer burned in) as an RGB Secondary Capture image."""
    ds = _base(src, SC_SOP_CLASS, "OT", "cxr-miliary Grad-CAM overlay (not for diagnostic use)", 9901, sop_uid or generate_uid())
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientOrientation = ""
    ds.set_pixel_data(np.ascontiguousarray(overlay_rgb.astype(np.uint8)), "RGB", 8, generate_instance_uid=False)
    ds.PlanarConfiguration = 0
    ds.ImageComments = DISCLAIMER
    return ds


def _text_item(relationship: str, code: tuple[str, str, str], text: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = "TEXT"
    item.ConceptNameCodeSequence = Sequence([_code(*code)])
    item.TextValue = text[:1024]
    return item


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


def _basic_text_report(src: Dataset, description: str, sop_uid: str, finding: str, comment: str) -> Dataset:
    """A Basic Text SR: one finding and one comment (the basic result, and "not analysed")."""
    ds = _base(src, BASIC_TEXT_SR, "SR", description, 9902, sop_uid)
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([_code("18748-4", "LN", "Diagnostic imaging report")])
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.PerformedProcedureCodeSequence = Sequence()
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.ContentSequence = Sequence(
        [_text_item("CONTAINS", ("121071", "DCM", "Finding"), finding), _text_item("CONTAINS", ("121106", "DCM", "Comment"), comment)]
    )
    return ds


def structured_report(src: Dataset, result: dict[str, Any], sop_uid: str | None = None) -> Dataset:
    """A Basic Text SR with the probability, the decision, the distribution pattern and the disclaimer (``sr="basic"``)."""
    dist = result.get("distribution") or {}
    caveat = unreliable_sentence(result.get("integrity") or {}) + " " if result.get("reliable") is False else ""
    findings = caveat + (
        f"Miliary / reticulonodular pattern probability {result['probability']:.3f} "
        f"(threshold {result['threshold']:.3f}): {'POSITIVE' if result['positive'] else 'negative'}. "
        f"Distribution: {dist.get('pattern', 'not computed')}."
    )
    comment = f"Model {result['model']['name']} sha256 {result['model']['sha256'][:16]}. {DISCLAIMER}"
    return _basic_text_report(src, "cxr-miliary result (not for diagnostic use)", sop_uid or generate_uid(), findings, comment)


def write_dicom_results(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    result: dict[str, Any],
    overlay_rgb: np.ndarray,
    sr: bool | str | None = "tid1500",
) -> list[Path]:
    """Write the SC (and the SR) for one scored DICOM file; returns the written paths (``<SOPInstanceUID>.dcm``).

    Args:
        source: The scored DICOM file.
        out_dir: Where the objects go.
        result: ``predict``'s JSON for it.
        overlay_rgb: The overlay the SC shows.
        sr: ``"tid1500"`` (the default: a Measurement Report), ``"basic"`` (a Basic Text SR),
            or None / False (the SC only); True means ``"tid1500"``.

    Raises:
        ValueError: The source is not DICOM (there is no study to attach results to).
        InvalidSourceError: Its Type 1 UIDs are missing or invalid.
    """
    kind = "tid1500" if sr is True else None if sr in (False, None) else str(sr)
    if kind is not None and kind not in SR_KINDS:
        raise ValueError(f"sr must be one of {', '.join(SR_KINDS)}")

    def build(src: Dataset, base: Dataset, uid: Any) -> list[Dataset]:
        objects = [secondary_capture(base, overlay_rgb, uid("sc"))]
        if kind == "basic":
            objects.append(structured_report(base, result, uid("sr-basic")))
        elif kind == "tid1500":
            from .report import measurement_report

            objects.append(measurement_report(base, result, uid("sr-series"), uid("sr"), 9902))
        return objects

    return _write_objects(source, out_dir, str(result["model"]["sha256"]), build)


def write_not_analysed(source: str | os.PathLike[str], out_dir: str | os.PathLike[str], error: str, model: dict[str, Any]) -> list[Path]:
    """A Basic Text SR saying the image was received but not analysed, and why (what a PACS user sees instead of nothing).

    Args:
        source: The DICOM file that was not scored.
        out_dir: Where the report goes.
        error: The error row's text, ``"<code>: <reason>"`` (free of identifiers).
        model: The model's ``name`` and ``sha256``.

    Raises:
        ValueError: The source is not DICOM; InvalidSourceError: its Type 1 UIDs are missing or invalid.
    """

    def build(src: Dataset, base: Dataset, uid: Any) -> list[Dataset]:
        comment = f"Model {model['name']} sha256 {str(model['sha256'])[:16]}. {DISCLAIMER}"
        description = "cxr-miliary: not analysed (not for diagnostic use)"
        return [_basic_text_report(base, description, uid("not-analysed"), f"NOT ANALYSED by cxr-miliary: {error}", comment)]

    return _write_objects(source, out_dir, str(model["sha256"]), build)


def _write_objects(source: str | os.PathLike[str], out_dir: str | os.PathLike[str], sha: str, build: Any) -> list[Path]:
    """Read the source's header, build the result objects, write them all or none (``<SOPInstanceUID>.dcm``)."""
    from ..io.dicom import read_dataset

    try:
        src = read_dataset(source)
    except Exception:
        raise ValueError(f"{source}: DICOM output needs a DICOM input (no study to attach the result to)") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    phi: list[str] = []
    content = content_digest(source)
    try:
        # pydicom's warnings quote element values (the study's identifiers): redacted, at
        # debug level - collecting the values is itself inside, it reads every element
        with quarantined_warnings(phi):
            phi.extend(collect_phi_values(src))
            base = evidence(src)
            objects = build(src, base, lambda kind: result_uid(src, sha, kind, content))
            for ds in objects:
                ds.SpecificCharacterSet = "ISO_IR 192"  # the values copied are kept as they are (UTF-8), in every object
                path = out / f"{ds.SOPInstanceUID}.dcm"
                with atomic_path(path) as tmp:
                    ds.save_as(tmp, enforce_file_format=True)
                written.append(path)
    except BaseException:
        for path in written:  # all or nothing
            path.unlink(missing_ok=True)
        raise
    return written


def _valid_value(src: Dataset, keyword: str) -> object | None:
    """The source's value if it is valid for its VR (and free of control characters), else None with a warning.

    Copying an invalid value verbatim (a StudyDate that is not a date, a name with a
    control character) would write an invalid DICOM file; the value itself is never
    printed, only which attribute was left out.
    """
    try:
        elem = src.data_element(keyword)
        value = elem.value
        texts = [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])] if value is not None else []
        if any(ord(c) < 0x20 and c != "\x1b" for t in texts for c in t):
            raise ValueError("control character")
        validate_value(elem.VR, value, config.RAISE)
    except Exception:
        log.warning("DICOM output: %s left out (the source's value is not valid for its type)", keyword)
        return None
    return value
