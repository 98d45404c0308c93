"""What the node takes at C-STORE, and what it refuses there (with the status and the reason).

Refused at C-STORE - the sender keeps the image and a person sees the failure at once:
images that could never give a result whatever their content, i.e. broken or unsupported
objects: an unsupported SOP class (0x0122), DX *For Processing* (raw detector data, not
for display: 0x0122, or 0xA900 when a For Presentation class says so), a data set that
cannot be parsed, has no pixel data or less than its header declares, or needs a decoder
this install lacks (0xC000), Type 1 UIDs missing or invalid (0xC000), a data set whose
SOP class or instance differs from the C-STORE command's (0xA900 / 0xC000).

Accepted and answered with a "not analysed" report instead: images that are well formed
but that the frontal-chest checks refuse (a lateral view, a hand, a film turned). A
router such as Orthanc ends its whole send job at the first refusal, so refusing the
lateral of a PA + lateral study would keep the PA from ever arriving.

Secondary Capture (how digitised films, research sets and workstation exports arrive)
is taken only when the pixels pass the frontal-chest check; any other SC (a screenshot, a
scanned form) is refused 0x0122 with the reason logged - SC is a general-purpose class, and
answering each with a "not analysed" report would flood a PACS that routes everything.

**The node's own outputs** (its SC overlays and its SRs: Manufacturer ``cxr-miliary``) are
acknowledged and dropped with a log line, never scored: a PACS that routes everything it
stores to the node sends them back; a refusal would end an Orthanc send job (and the films
queued after it in that job) or make another router retry it for ever.

Transfer syntaxes are negotiated only where this install has a decoder (pydicom's
plugins), so a sender that prefers JPEG XL or HEVC falls back to one we can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Secondary Capture Image Storage.
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
#: CR, DX For Presentation and Secondary Capture Image Storage: what the node scores.
ACCEPTED = ("1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1", SECONDARY_CAPTURE)
#: The SR classes the node writes (Comprehensive 3D SR, Basic Text SR): recognised when they come back.
OWN_SR = ("1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.88.11")
#: The Manufacturer every result object of the node carries.
OWN_MANUFACTURER = "cxr-miliary"
#: DX For Processing Image Storage: raw detector data, refused.
DX_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"

SUCCESS = 0x0000
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700
DATA_SET_MISMATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000


@dataclass
class Verdict:
    """A C-STORE's answer: ``status`` (0 accepted), the log's reason (no identifier), the data set's SOP Instance UID."""

    status: int
    reason: str = ""
    sop_instance_uid: str = ""
    drop: bool = False  # acknowledged and not queued (the node's own output)

    @property
    def accepted(self) -> bool:
        """Whether the image is taken."""
        return self.status == SUCCESS


def decodable_syntaxes() -> list[str]:
    """The transfer syntaxes this install can decode pixel data from (uncompressed ones, and each compressed one with a plugin)."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID
    from pynetdicom import ALL_TRANSFER_SYNTAXES

    out = []
    for ts in ALL_TRANSFER_SYNTAXES:
        uid = UID(ts)
        if not uid.is_compressed:
            out.append(ts)
            continue
        try:
            if get_decoder(uid).is_available:
                out.append(ts)
        except (NotImplementedError, ValueError):
            continue
    return out


def check_received(path: Path, command_sop_class: str, command_sop_instance: str) -> Verdict:
    """Whether a received image is taken: its SOP class, its structure, its UIDs against the command's.

    Args:
        path: The data set as received (a DICOM file).
        command_sop_class: The C-STORE command's Affected SOP Class UID.
        command_sop_instance: Its Affected SOP Instance UID.
    """
    from ..io import ImageError
    from ..io.dicom import check_structure
    from ..outputs.dicom import uid_problem

    if command_sop_class == DX_FOR_PROCESSING:
        return Verdict(SOP_CLASS_NOT_SUPPORTED, "a DX For Processing image (raw detector data, not for display)")
    if command_sop_class in (SECONDARY_CAPTURE, *OWN_SR) and is_own_output(path):
        return Verdict(SUCCESS, "the node's own output came back (a routing loop); acknowledged and dropped", drop=True)
    if command_sop_class not in ACCEPTED:
        return Verdict(SOP_CLASS_NOT_SUPPORTED, "a SOP class the node does not score")
    try:
        ds = check_structure(path)
    except ImageError as exc:
        return Verdict(CANNOT_UNDERSTAND, f"{exc.code}: {exc.reason}")
    except Exception as exc:  # anything else pydicom raises on a damaged data set
        return Verdict(CANNOT_UNDERSTAND, f"corrupt: the data set could not be parsed ({type(exc).__name__})")
    problem = uid_problem(ds)
    if problem:
        return Verdict(CANNOT_UNDERSTAND, f"invalid-uid: the data set's {problem}")
    if str(ds.SOPClassUID) != str(command_sop_class):
        return Verdict(DATA_SET_MISMATCH, "the data set's SOP Class UID differs from the C-STORE command's")
    if str(ds.SOPInstanceUID) != str(command_sop_instance):
        return Verdict(CANNOT_UNDERSTAND, "the data set's SOP Instance UID differs from the C-STORE command's")
    if str(ds.get("PresentationIntentType", "") or "").strip().upper() == "FOR PROCESSING":
        return Verdict(DATA_SET_MISMATCH, "a For Processing image (raw detector data, not for display)")
    if command_sop_class == SECONDARY_CAPTURE:
        refusal = _not_a_chest_film(path)
        if refusal:
            return Verdict(SOP_CLASS_NOT_SUPPORTED, f"a secondary capture that is not a frontal chest film ({refusal})")
    return Verdict(SUCCESS, "", str(ds.SOPInstanceUID))


def is_own_output(path: Path) -> bool:
    """Whether a data set is one of the node's own results (its Manufacturer), read without its pixels."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Manufacturer", "SeriesDescription"])
    except Exception:
        return False
    return str(ds.get("Manufacturer", "") or "").strip() == OWN_MANUFACTURER


def _not_a_chest_film(path: Path) -> str:
    """The frontal-chest check on a secondary capture's pixels: the refusal's ``code: reason``, or ``""``."""
    from ..inference.decoding import decode
    from ..io import ImageError

    try:
        decode(path, None, raise_errors=True)
    except ImageError as exc:
        return f"{exc.code}: {exc.reason}"
    except Exception as exc:  # a decoder bug on one file is that file's refusal
        return f"decode-failed: {type(exc).__name__}"
    return ""
