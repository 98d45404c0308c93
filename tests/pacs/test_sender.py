"""Delivering results: one refused object is set aside (once, with what the destination said), the rest go on."""

from __future__ import annotations

import logging
import threading
import time

import pydicom
import pytest
from dicom_peers import result_file
from pydicom.uid import ExplicitVRLittleEndian

from cxr_miliary.pacs import sender as sender_module
from cxr_miliary.pacs.queue import NodeState
from cxr_miliary.pacs.sender import Sender
from cxr_miliary.pacs.settings import Destination

pynetdicom = pytest.importorskip("pynetdicom")
SC = "1.2.840.10008.5.1.4.1.1.7"
SR = "1.2.840.10008.5.1.4.1.1.88.34"


class _Pacs:
    """A destination that stores SCs, answers SRs with ``sr_status`` (or does not take SRs at all)."""

    def __init__(self, sr_status=0xA700, take_sr=True):
        from pynetdicom import AE, evt

        self.got: list[str] = []
        self.lock = threading.Lock()
        self.sr_status = sr_status
        ae = AE(ae_title="DEST")
        ae.add_supported_context(SC, [ExplicitVRLittleEndian])
        if take_sr:
            ae.add_supported_context(SR, [ExplicitVRLittleEndian])
        self.server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)])
        self.port = self.server.server_address[1]

    def _store(self, event):
        if str(event.request.AffectedSOPClassUID) == SR:
            return self.sr_status
        with self.lock:
            self.got.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000


def _results(state: NodeState, n: int) -> list[tuple[str, object, object]]:
    out = []
    for k in range(n):
        sc = state.dicom / f"sc{k}.dcm"
        result_file(sc, SC)
        sr = state.dicom / f"sr{k}.dcm"
        result_file(sr, SR)
        state.record([{"key": f"k{k}", "dicom_outputs": f"{sc};{sr}"}])
        out.append((f"k{k}", sc, sr))
    return out


def _drain(sender: Sender, deadline_s: float = 30.0) -> None:
    t = time.monotonic()
    while (sender.send_pending() is not None) and (sender.pending() or sender._offset == 0) and time.monotonic() - t < deadline_s:
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(sender_module, "RETRY_S", 0.01)
    monkeypatch.setattr(sender_module, "MAX_TRIES", 3)


def test_a_refused_sr_is_set_aside_once_and_every_other_object_is_delivered(tmp_path, caplog):
    """Class 3 and 10: the SCs arrive, each SR is tried MAX_TRIES times, recorded with the status, delivered files are deleted."""
    pacs = _Pacs(sr_status=0xA700)
    state = NodeState(tmp_path)
    results = _results(state, 3)
    sc_uids = sorted(str(pydicom.dcmread(sc).SOPInstanceUID) for _, sc, _ in results)
    caplog.set_level(logging.WARNING)
    sender = Sender(state, Destination("127.0.0.1", pacs.port, "DEST"), "NODE")
    try:
        _drain(sender)
    finally:
        sender.release()
        pacs.server.shutdown()
    assert sorted(pacs.got) == sc_uids  # each SC once
    failed = [r for r in map(__import__("json").loads, state.failed.read_text().splitlines())]
    assert sorted(r["key"] for r in failed) == ["k0", "k1", "k2"] and all(r["tries"] == 3 and "0xA700" in r["last"] for r in failed)
    assert "0xA700" in caplog.text and "not reachable" not in caplog.text  # the log names what the destination said
    assert all(not sc.exists() and sr.exists() for _, sc, sr in results)  # delivered files deleted; dead letters kept for an operator
    # a restart sends nothing again: delivered and set-aside objects are known from the journals
    again = Sender(state, Destination("127.0.0.1", 1, "DEST"), "NODE")
    assert again.send_pending() is True and again.pending() == 0


def test_a_destination_without_the_sr_class_and_a_missing_file_do_not_block_delivery(tmp_path, monkeypatch):
    pacs = _Pacs(take_sr=False)
    state = NodeState(tmp_path)
    results = _results(state, 2)
    results[0][1].unlink()  # a result file deleted before it was sent
    sender = Sender(state, Destination("127.0.0.1", pacs.port, "DEST"), "NODE", keep=True)
    try:
        _drain(sender)
    finally:
        sender.release()
        pacs.server.shutdown()
    lines = state.failed.read_text()
    assert "missing" in lines and "did not accept the SR" in lines
    assert pacs.got == [str(pydicom.dcmread(results[1][1]).SOPInstanceUID)]  # the other result's SC arrived
    assert results[1][1].exists()  # --keep-dicom keeps delivered files
