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


def _redact_quoted(text: str) -> str:
    """Redact quoted spans greedily: from the first quote to the *last* quote of the same kind, or to the end of the message when the quotes do not pair up.

    A value holding an apostrophe (O'LEARY) or one cut short can then never close the
    span early and leave the rest of the value in the open.
    """
    for q in ("'", '"'):
        first = text.find(q)
        if first < 0:
            continue
        last = text.rfind(q)
        glued = last + 1 < len(text) and text[last + 1].isalnum()  # a quote inside a word (O'LEARY) closes nothing
        end = len(text) if text.count(q) % 2 or last == first or glued else last + 1
        text = text[:first] + "'[redacted]'" + text[end:]
    return text


#: A quoted program name (a type, attribute or keyword: 'NoneType', 'body_part'), which
#: an unexpected failure's message may keep.
_PROGRAM_NAME = re.compile(r"'([A-Za-z_][A-Za-z0-9_.]*)'")


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


#: Identifying tags looked for in a file's raw bytes, (group, element): the patient's
#: names and IDs, birth date, accession number, referring physician.
_RAW_TAGS = ((0x0010, 0x0010), (0x0010, 0x0020), (0x0010, 0x0030), (0x0010, 0x1000), (0x0010, 0x1001), (0x0008, 0x0050), (0x0008, 0x0090))
#: How much of a file's start the raw scan reads (the patient module sits in the first kilobytes).
RAW_SCAN_BYTES = 1 << 16


def raw_phi_values(head: bytes) -> list[str]:
    """Identifying values found in a file's raw bytes, whether or not the parser saw their elements.

    A damaged file can hide its patient module inside another element's over-long value,
    where pydicom never sees a PatientName, yet its warnings may quote the bytes. The scan
    finds the identifying tags themselves (little endian, explicit or implicit VR) and
    reads the short text values after them, so redaction knows those values too.
    """
    import struct

    found: set[str] = set()
    for group, element in _RAW_TAGS:
        tag = struct.pack("<HH", group, element)
        start = 0
        while len(found) < MAX_PHI_VALUES:
            i = head.find(tag, start)
            if i < 0:
                break
            start = i + 4
            vr = head[i + 4 : i + 6]
            if len(vr) == 2 and vr.isalpha() and vr.isupper():
                (n,) = struct.unpack("<H", (head[i + 6 : i + 8] + b"\0\0")[:2])  # the head may end mid-length
                value = head[i + 8 : i + 8 + n]
            else:
                (n,) = struct.unpack("<I", (head[i + 4 : i + 8] + b"\0" * 4)[:4])
                value = head[i + 8 : i + 8 + n] if n <= MAX_PHI_VALUE_CHARS else b""
            text = value[:MAX_PHI_VALUE_CHARS].decode("latin-1").strip(" \0")
            if len(text) >= 3 and text.isprintable():
                found.add(text)
                found.update(part for part in re.split(r"[\^=\\ ]+", text) if len(part) >= 3)
    return sorted(found, key=len, reverse=True)


def redact(text: str, values: list[str] | tuple[str, ...] = ()) -> str:
    """Remove quoted values and known identifiers from a message.

    Redaction never depends on a value being quoted neatly: the known values are removed
    wherever they stand, and a quoted span runs to the last matching quote (or the end of
    the message). Callers cut messages only after redacting them.

    Args:
        text: A message from pydicom or a decoder.
        values: Identifying strings collected from the dataset.

    Returns:
        The message with every quoted literal and every known value replaced by
        ``[redacted]``.
    """
    return _redact_quoted(scrub(text, values))


def redact_message(text: str) -> str:
    """An unexpected failure's message for the terminal: quoted literals redacted, except program names.

    "'NoneType' object has no attribute 'shape'" stays readable; a quoted value that is not
    shaped like a program name (spaces, ``^``, digits first, all capitals) is redacted.
    """
    kept: list[str] = []

    def keep(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.isupper() or name[0].isdigit() or not any(c.islower() or c == "_" for c in name):
            return m.group(0)  # capitals only (a DICOM name or ID): let redact() take it
        kept.append(name)
        return f"\x00{len(kept) - 1}\x00"

    masked = redact(_PROGRAM_NAME.sub(keep, text))
    return re.sub("\x00(\\d+)\x00", lambda m: f"'{kept[int(m.group(1))]}'", masked)


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
    alternation, or one ``replace`` per value, is the product). A value is redacted as a
    whole word only (not inside a longer word), so a name part that is an ordinary word
    ("CHEST" of NOT^CHEST) does not eat the words that merely contain it.
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

    return re.compile(rf"(?<![A-Za-z0-9_])(?:{build(trie)})(?![A-Za-z0-9_])")


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


#: A UID as it appears in a message: four or more dot-separated numbers.
_UID = re.compile(r"(?<![\w.])\d+(?:\.\d+){3,}(?![\w])")
#: The libraries whose log lines may quote a data set's values or UIDs.
THIRD_PARTY = ("pydicom", "pynetdicom", "highdicom")


class ThirdPartyRedactor(logging.Filter):
    """A handler's filter: lines from :data:`THIRD_PARTY` loggers lose quoted values and UIDs.

    On a handler, not a logger: a logger's filter sees only records made on that very
    logger, and pynetdicom and highdicom log from child loggers (``pynetdicom.utils``:
    "Non-conformant 'Affected SOP Instance UID' value '...'"; ``highdicom.base``: every
    source's SOP Instance UID).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite a third-party record in place; every record passes."""
        if record.name.split(".", 1)[0] in THIRD_PARTY:
            try:
                message = record.getMessage()
            except Exception:
                message = str(record.msg)
            record.msg = _UID.sub("[uid]", redact(message))
            record.args = None
        return True


def install_log_redaction() -> None:
    """Put :class:`ThirdPartyRedactor` on every handler of the root logger (idempotent; call after configuring logging)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ThirdPartyRedactor) for f in handler.filters):
            handler.addFilter(ThirdPartyRedactor())


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
                msg = redact(str(w.message), values_ref)[:1000]  # redacted first: a cut could split a value or its quotes
                messages.append(msg)
                log.debug("decoder warning: %s", msg)
            if len(relevant) > MAX_DECODER_WARNINGS:
                messages.append(f"... and {len(relevant) - MAX_DECODER_WARNINGS} more decoder warnings")


install_pydicom_log_filter()
