"""Keep patient identifiers out of everything except explicit PACS outputs.

pydicom's warnings and log records sometimes quote element values ("Invalid value for VR
DA: '...'"), and exception messages may too. Everything pydicom says while we read a file
passes through :func:`redact` before it reaches our logger, and our own messages are
built only from non-identifying tags.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

#: DICOM keywords whose values identify a patient, a study or the people and places
#: involved (PS3.15 Annex E basic profile, the parts relevant to radiographs).
PHI_KEYWORDS: tuple[str, ...] = (
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "OtherPatientIDsSequence",
    "IssuerOfPatientID", "PatientBirthDate", "PatientBirthTime", "PatientAddress",
    "PatientTelephoneNumbers", "PatientMotherBirthName", "MilitaryRank", "MedicalRecordLocator",
    "EthnicGroup", "PatientComments", "AdditionalPatientHistory", "PatientInsurancePlanCodeSequence",
    "AccessionNumber", "StudyID", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate",
    "StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime", "AcquisitionDateTime",
    "InstanceCreationDate", "InstanceCreationTime", "InstitutionName", "InstitutionAddress",
    "InstitutionalDepartmentName", "StationName", "ReferringPhysicianName",
    "ReferringPhysicianAddress", "PerformingPhysicianName", "NameOfPhysiciansReadingStudy",
    "OperatorsName", "PhysiciansOfRecord", "RequestingPhysician", "DeviceSerialNumber",
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
    "MediaStorageSOPInstanceUID", "RequestAttributesSequence", "StudyDescription",
    "SeriesDescription", "RequestedProcedureDescription", "ImageComments", "DerivationDescription",
)

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def collect_phi_values(ds: Any) -> list[str]:
    """Return the string forms of every identifying value present in ``ds``.

    Args:
        ds: A pydicom ``Dataset`` (file meta included when present).

    Returns:
        Non-trivial strings (length >= 3), longest first so that redaction replaces
        "JOHN^DOE" before "JOHN".
    """
    values: set[str] = set()
    for keyword in PHI_KEYWORDS:
        for container in (ds, getattr(ds, "file_meta", None)):
            if container is None:
                continue
            try:
                elem = container.get(keyword)
            except Exception:  # a malformed value must not stop redaction
                continue
            if elem is None:
                continue
            for value in elem if isinstance(elem, (list, tuple)) else [elem]:
                text = str(value).strip()
                if len(text) >= 3:
                    values.add(text)
                    values.update(part for part in re.split(r"[\^=\\ ]+", text) if len(part) >= 3)
    return sorted(values, key=len, reverse=True)


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
    for value in values:
        text = text.replace(value, "[redacted]")
    return text


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
            for w in caught:
                if issubclass(w.category, DeprecationWarning):
                    continue
                msg = redact(str(w.message), values_ref)
                messages.append(msg)
                log.debug("decoder warning: %s", msg)


install_pydicom_log_filter()
