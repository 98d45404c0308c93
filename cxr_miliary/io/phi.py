"""Keep patient identifiers out of everything except explicit PACS outputs.

pydicom's warnings and log records sometimes quote element values ("Invalid value for VR
DA: '...'"), and exception messages may too. Everything pydicom says while we read a file
passes through :func:`redact` before it reaches our logger, and our own messages are
built only from non-identifying tags.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import warnings
from collections.abc import Iterator
from typing import Any

from .limits import MAX_DECODER_WARNINGS, MAX_PHI_VALUE_CHARS, MAX_PHI_VALUES

log = logging.getLogger(__name__)

#: DICOM keywords whose values identify a patient, a study or the people and places
#: involved (PS3.15 Annex E basic profile, the parts relevant to radiographs).
PHI_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "OtherPatientIDsSequence",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "MilitaryRank",
    "MedicalRecordLocator",
    "EthnicGroup",
    "PatientComments",
    "AdditionalPatientHistory",
    "PatientInsurancePlanCodeSequence",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "StudyTime",
    "SeriesTime",
    "AcquisitionTime",
    "ContentTime",
    "AcquisitionDateTime",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "ReferringPhysicianName",
    "ReferringPhysicianAddress",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "DeviceSerialNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
    "MediaStorageSOPInstanceUID",
    "RequestAttributesSequence",
    "StudyDescription",
    "SeriesDescription",
    "RequestedProcedureDescription",
    "ImageComments",
    "DerivationDescription",
)

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def collect_phi_values(ds: Any) -> list[str]:
    """Return the string forms of every identifying value present in ``ds``.

    Args:
        ds: A pydicom ``Dataset`` (file meta included when present).

    Returns:
        Non-trivial strings (length >= 3), longest first so that redaction replaces
        "JOHN^DOE" before "JOHN"; at most :data:`MAX_PHI_VALUES`, each cut to
        :data:`MAX_PHI_VALUE_CHARS` (a crafted file with 20,000 identifiers must not
        make redaction slow; the keywords that identify most come first).
    """
    values: set[str] = set()
    for keyword in PHI_KEYWORDS:
        if len(values) >= MAX_PHI_VALUES:
            break
        for container in (ds, getattr(ds, "file_meta", None)):
            if container is None:
                continue
            try:
                elem = container.get(keyword)
            except Exception:  # a malformed value must not stop redaction
                continue
            if elem is None:
                continue
            items = elem if isinstance(elem, (list, tuple)) else [elem]
            for value in items[:MAX_PHI_VALUES]:
                text = str(value).strip()[:MAX_PHI_VALUE_CHARS]
                if len(text) >= 3:
                    values.add(text)
                    values.update(part for part in re.split(r"[\^=\\ ]+", text) if len(part) >= 3)
                if len(values) >= MAX_PHI_VALUES:
                    break
    return sorted(values, key=len, reverse=True)[:MAX_PHI_VALUES]


def redact(text: str, values: list[str] | tuple[str, ...] = ()) -> str:
    """Remove quoted values and known identifiers from a message.

    Args:
        text: A message from pydicom or a decoder.
        values: Identifying strings collected from the dataset.

    Returns:
        The message with every quoted literal and every known value replaced by
        ``[redacted]``.
    """
    return scrub(_QUOTED.sub("'[redacted]'", text), values)


def scrub(text: str, values: list[str] | tuple[str, ...] = ()) -> str:
    """Replace every known identifying value in ``text`` by ``[redacted]``.

    Args:
        text: A message built from header values.
        values: Identifying strings collected from the dataset.

    Returns:
        The message without those values.
    """
    if not values or not text:
        return text
    return _pattern(tuple(values)).sub("[redacted]", text)


@functools.lru_cache(maxsize=16)
def _pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    """One regular expression for all values, shaped as a trie (a prefix tree).

    At each position of a message the match walks the tree once, longest value first, so
    redaction costs time linear in the message, not in messages x values (a plain
    alternation, or one ``replace`` per value, is the product).
    """
    trie: dict[str, Any] = {}
    for v in values:
        node = trie
        for ch in v:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(build(trie))


class _RedactingFilter(logging.Filter):
    """Rewrites pydicom's own log records so quoted tag values never reach a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


def install_pydicom_log_filter() -> None:
    """Attach the redacting filter to pydicom's logger (idempotent)."""
    logger = logging.getLogger("pydicom")
    if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
        logger.addFilter(_RedactingFilter())


@contextlib.contextmanager
def quarantined_warnings(values_ref: list[str]) -> Iterator[list[str]]:
    """Capture warnings raised inside the block, redact them and log them at DEBUG.

    Warnings from pydicom and the codecs may quote element values, so none may reach
    ``warnings.showwarning`` (the terminal) unredacted.

    Args:
        values_ref: List of identifying strings; may be filled in while the block runs
            (the dataset is only known after parsing).

    Yields:
        A list that receives the redacted warning messages.
    """
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield messages
        finally:
            relevant = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
            for w in relevant[:MAX_DECODER_WARNINGS]:
                msg = redact(str(w.message)[:1000], values_ref)
                messages.append(msg)
                log.debug("decoder warning: %s", msg)
            if len(relevant) > MAX_DECODER_WARNINGS:
                messages.append(f"... and {len(relevant) - MAX_DECODER_WARNINGS} more decoder warnings")


install_pydicom_log_filter()
