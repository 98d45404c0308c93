"""DICOM peers for the node's tests: a PACS stand-in that keeps what it receives, and senders."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pydicom

SR = "1.2.840.10008.5.1.4.1.1.88.34"
BASIC_SR = "1.2.840.10008.5.1.4.1.1.88.11"
SC = "1.2.840.10008.5.1.4.1.1.7"
DX = "1.2.840.10008.5.1.4.1.1.1.1"


def result_file(path: Path, sop_class: str = SC) -> pydicom.Dataset:
    """A small result object (an 8 x 8 SC, or an SR header) written as a node writes its results; returns its data set."""
    import numpy as np
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = pydicom.Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID = "OT", "X"
    if sop_class == SC:
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit, ds.PixelRepresentation = 7, 0
        ds.PixelData = np.arange(64, dtype=np.uint8).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = sop_class, ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return ds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class Destination:
    """A PACS stand-in: a storage SCP that keeps what it receives (SOP class, UIDs, the SR's numbers)."""

    def __init__(self, port: int | None = None) -> None:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

        self.port = port or free_port()
        self.received: list[pydicom.Dataset] = []
        self.lock = threading.Lock()
        ae = AE(ae_title="DEST")
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)])

    def _store(self, event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        with self.lock:
            self.received.append(ds)
        return 0x0000

    def unique(self, sop_class: str) -> dict[str, pydicom.Dataset]:
        with self.lock:
            return {str(d.SOPInstanceUID): d for d in self.received if d.SOPClassUID == sop_class}

    def count(self) -> int:
        with self.lock:
            return len(self.received)


def serve(port: int, out: Path, dest: Destination, bundle: Path, *extra: str) -> subprocess.Popen:
    """``cxr-miliary serve`` in a process of its own, once it listens."""
    cmd = [sys.executable, "-m", "cxr_miliary", "--quiet", "serve", "--port", str(port), "--out", str(out), "--dest", f"127.0.0.1:{dest.port}:DEST",
           "--allow-ae", "SENDER,ECHOSCU,STORESCU", "--weights", str(bundle), "--precision", "fp32", "--workers", "1", "--batch-size", "8", *extra]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        time.sleep(0.3)
    raise AssertionError("serve never listened")


def send(port: int, files: list[Path], title: str = "SENDER", *, as_written: bool = False) -> list[int | None]:
    """C-STORE files over one association; each one's status (None: no answer).

    ``as_written``: the files' bytes go out as they are, the command's UIDs taken from
    their file meta (how a crafted data set reaches a node under a valid command).
    """
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE, _config

    ae = AE(ae_title=title)
    if as_written:  # one context per syntax: the file goes out in its own
        ae.add_requested_context(DX, ExplicitVRLittleEndian)
        ae.add_requested_context(DX, ImplicitVRLittleEndian)
    else:
        ae.add_requested_context(DX)
    assoc = ae.associate("127.0.0.1", port, ae_title="CXR-MILIARY")
    if not assoc.is_established:
        return [None] * len(files)
    statuses: list[int | None] = []
    before = _config.STORE_SEND_CHUNKED_DATASET
    _config.STORE_SEND_CHUNKED_DATASET = as_written
    try:
        for f in files:
            try:
                status = assoc.send_c_store(f if as_written else pydicom.dcmread(f))
            except Exception:
                status = None
            statuses.append(int(status.Status) if status and "Status" in status else None)
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = before
        if assoc.is_established:
            assoc.release()
    return statuses


def send_all(port: int, files: list[Path], threads: int = 4) -> list[Path]:
    """Files sent over ``threads`` associations at once; those not acknowledged."""
    chunks = [files[i::threads] for i in range(threads)]
    left: list[Path] = []
    lock = threading.Lock()

    def run(chunk):
        rest = [f for f, s in zip(chunk, send(port, chunk), strict=True) if s != 0x0000]
        with lock:
            left.extend(rest)

    workers = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return left
