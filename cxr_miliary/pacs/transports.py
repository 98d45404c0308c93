"""How result objects reach a PACS: DIMSE C-STORE (``--dest``) or DICOMweb STOW-RS (``--dest-web``, ``score --stow``).

A transport answers one question per object - stored, refused (the destination answered
and said no: counted against the object) or unreachable (nobody answered: nothing is
counted, everything waits) - so the sender's exactly-once journal, retries and dead-letter
record are the same whichever way results travel.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Statuses that mean the object is stored (success and the storage warnings).
STORED_STATUSES = (0x0000, 0xB000, 0xB007, 0xB006)
#: What is proposed: Secondary Capture, Comprehensive 3D SR, Basic Text SR.
RESULT_CLASSES = {"1.2.840.10008.5.1.4.1.1.7": "SC", "1.2.840.10008.5.1.4.1.1.88.34": "SR", "1.2.840.10008.5.1.4.1.1.88.11": "SR"}
STORED, REFUSED, UNREACHABLE = "stored", "refused", "unreachable"


@dataclass
class Outcome:
    """What became of one object: ``STORED``, ``REFUSED`` (with what the destination said) or ``UNREACHABLE``."""

    kind: str
    said: str = ""


def status_text(code: int) -> str:
    """``0xA700 (Refused: Out of Resources)``: a status with pynetdicom's description of it."""
    from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS

    category, meaning = STORAGE_SERVICE_CLASS_STATUS.get(code, ("", ""))
    words = f"{category}: {meaning}" if category and meaning else category or meaning or "unknown status"
    return f"0x{code:04X} ({words})"


def store(assoc: Any, path: Path) -> Any:
    """C-STORE a result file as written: its bytes go out without being decoded and encoded again.

    Decoding and re-encoding a TID 1500 report with pydicom cost ~50 ms of CPU per report
    on the node's cores (shared with receiving and scoring). A destination that accepted
    the class only in another transfer syntax gets the decoded dataset, converted.

    Raises:
        ValueError: The destination accepted the object's SOP class in no transfer syntax.
    """
    from pydicom import dcmread
    from pynetdicom import _config

    _config.STORE_SEND_CHUNKED_DATASET = True  # pynetdicom's switch for send-as-written; only the node's sender sends files
    try:
        return assoc.send_c_store(path)
    except ValueError:  # no accepted context in the file's own transfer syntax
        return assoc.send_c_store(dcmread(path))


class Dimse:
    """C-STORE to ``HOST:PORT:AE`` over one association kept open while results flow.

    Args:
        dest: The destination (:class:`~cxr_miliary.pacs.settings.Destination`).
        ae_title: The calling AE title.
    """

    def __init__(self, dest: Any, ae_title: str) -> None:
        self.dest, self.ae_title = dest, ae_title
        self.assoc: Any = None
        self.problem = ""  # why the last association could not be had

    @property
    def name(self) -> str:
        """The destination, for logs."""
        return f"{self.dest.host}:{self.dest.port}"

    def ready(self) -> bool:
        """An association to the destination (the open one, or a new one); False when none can be had."""
        if self.assoc is not None and self.assoc.is_established:
            return True
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
        from pynetdicom import AE

        ae = AE(ae_title=self.ae_title)
        # the files' own transfer syntax in a context of its own (so a destination can accept
        # it and the file goes out as written) and Implicit VR, which every SCP must accept
        for sop_class in RESULT_CLASSES:
            ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
            ae.add_requested_context(sop_class, ImplicitVRLittleEndian)
        assoc = ae.associate(self.dest.host, self.dest.port, ae_title=self.dest.ae_title)
        if assoc.is_established:
            self.assoc = assoc
            return True
        self.assoc = None
        how = "rejected the association" if assoc.is_rejected else self._unreachable() if assoc.is_aborted else "is not reachable"
        log.warning("destination %s %s", self.name, how)
        self.problem = f"destination {self.name} {how}"
        return False

    def _unreachable(self) -> str:
        # pynetdicom says "aborted" both when the peer aborted and when no TCP connection could
        # be made; an administrator needs to know which (a stopped PACS, a firewall, a wrong port)
        try:
            socket.create_connection((self.dest.host, self.dest.port), timeout=5).close()
        except OSError as exc:
            return f"is not reachable ({exc.strerror or type(exc).__name__.lower()})"
        return "aborted the association"

    def send(self, path: Path, kind: str) -> Outcome:
        """C-STORE one file."""
        try:
            status = store(self.assoc, path)
        except ValueError:
            return Outcome(REFUSED, f"the destination did not accept the {kind}'s SOP class")
        if not status or "Status" not in status:  # no answer: the association broke
            self.release()
            return Outcome(UNREACHABLE, "the destination did not answer (the association ended)")
        code = int(status.Status)
        if code in STORED_STATUSES:
            return Outcome(STORED)
        return Outcome(REFUSED, f"the destination refused it with status {status_text(code)}")

    def release(self) -> None:
        """Release the association, if one is open."""
        assoc, self.assoc = self.assoc, None
        if assoc is not None:
            with contextlib.suppress(Exception):
                if assoc.is_established:
                    assoc.release()


class Stow:
    """STOW-RS to a DICOMweb service (``dicomweb-client``): one request per object.

    A connection that fails or times out (60 s) or an HTTP 5xx / 408 / 429 means the service is not there now
    (unreachable: everything waits, nothing counted); any other 4xx is a refusal of that
    object, with the status and the service's words.

    Args:
        url: The service's root (e.g. ``http://orthanc:8042/dicom-web``).
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._client: Any = None

    @property
    def name(self) -> str:
        """The destination, for logs."""
        return self.url

    @property
    def assoc(self) -> Any:
        """No association: kept so the sender can ask any transport."""
        return None

    def ready(self) -> bool:
        """A client for the service (made once; the service itself answers at the first send)."""
        if self._client is None:
            from dicomweb_client.api import DICOMwebClient

            self._client = DICOMwebClient(url=self.url, timeout=60)
            # the client's own retries (5 tries, ~30 s, on 429/408/503/504) would hold the
            # sender inside one send; the sender's back-off already does this, for every transport
            self._client.set_http_retry_params(retry=False)
        return True

    def send(self, path: Path, kind: str) -> Outcome:
        """STOW-RS one file (its data set as written)."""
        import requests
        from pydicom import dcmread

        self.ready()
        try:
            answer = self._client.store_instances([dcmread(path)])
        except requests.exceptions.HTTPError as exc:
            code = exc.response.status_code if exc.response is not None else 0
            if code >= 500 or code in (408, 429):
                return Outcome(UNREACHABLE, f"the service answered HTTP {code}")
            return Outcome(REFUSED, f"the service refused it with HTTP {code}")
        except requests.exceptions.RequestException as exc:  # no connection, a timeout, a broken answer
            return Outcome(UNREACHABLE, f"the service is not reachable ({type(exc).__name__})")
        failed = answer.get("FailedSOPSequence") if answer is not None else None
        if failed:
            reason = failed[0].get("FailureReason")
            return Outcome(REFUSED, f"the service refused it (failure reason {reason if reason is not None else 'unknown'})")
        return Outcome(STORED)

    def release(self) -> None:
        """Nothing held between sends."""
