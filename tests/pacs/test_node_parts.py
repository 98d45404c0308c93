"""The node's queue as the scorer's source: each film once, WAIT while films arrive, FLUSH when they stop; results sent as written."""

from __future__ import annotations

import contextlib
import threading
import time

import pydicom
import pytest
from dicom_peers import result_file
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from cxr_miliary.pacs.node import _store

SC = "1.2.840.10008.5.1.4.1.1.7"


_sc_file = result_file


@pytest.mark.parametrize("accepted", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_a_result_goes_out_as_written_or_converted_when_it_must(tmp_path, accepted, monkeypatch):
    pytest.importorskip("pynetdicom")
    from pynetdicom import AE, evt

    decoded = []
    read = pydicom.dcmread
    monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: decoded.append(a) or read(*a, **k))

    sent = _sc_file(tmp_path / "sc.dcm")
    got: list[tuple[str, pydicom.Dataset]] = []
    lock = threading.Lock()

    def on_store(event):
        with lock:
            got.append((str(event.context.transfer_syntax), event.dataset))
        return 0x0000

    dest = AE(ae_title="DEST")
    dest.add_supported_context(SC, [accepted])  # a PACS that takes one transfer syntax only
    server = dest.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        ae = AE(ae_title="NODE")
        ae.add_requested_context(SC, ExplicitVRLittleEndian)
        ae.add_requested_context(SC, ImplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", server.server_address[1], ae_title="DEST")
        assert assoc.is_established
        try:
            assert _store(assoc, tmp_path / "sc.dcm").Status == 0x0000
        finally:
            assoc.release()
    finally:
        server.shutdown()
    ((syntax, ds),) = got
    assert syntax == accepted and ds.SOPInstanceUID == sent.SOPInstanceUID and ds.PixelData == sent.PixelData
    assert len(decoded) == (0 if accepted == ExplicitVRLittleEndian else 1)  # decoded only to be converted


def test_the_sender_keeps_one_association_and_comes_back_after_the_destination_restarts(tmp_path, monkeypatch):
    pytest.importorskip("pynetdicom")
    from pynetdicom import AE, evt

    from cxr_miliary.pacs import sender as sender_module
    from cxr_miliary.pacs.node import Destination, ModelSpec, Node

    got: list[str] = []
    associations: list[int] = []

    def start_dest(port=0):
        ae = AE(ae_title="DEST")
        ae.add_supported_context(SC, [ExplicitVRLittleEndian])
        handlers = [
            (evt.EVT_C_STORE, lambda e: got.append(str(e.request.AffectedSOPInstanceUID)) or 0x0000),
            (evt.EVT_ACCEPTED, lambda e: associations.append(1)),
        ]
        return ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)

    server = start_dest()
    port = server.server_address[1]
    node = Node(ModelSpec(), tmp_path / "node", port=0, dest=Destination("127.0.0.1", port, "DEST"))
    films = [_sc_file(tmp_path / f"{k}.dcm") for k in range(4)]

    def result(k):
        node.state.record([{"key": f"k{k}", "dicom_outputs": str(tmp_path / f"{k}.dcm")}])

    def attempt():
        try:
            return node._send_pending()
        except Exception:  # what the sender thread does with a broken association
            node._release()
            return False

    try:
        result(0)
        assert attempt()
        result(1)
        assert attempt() and len(associations) == 1  # the second result went over the same association
        for assoc in server.active_associations:  # the destination goes away with the association open
            assoc.abort()
        server.shutdown()
        time.sleep(0.5)
        result(2)
        assert not attempt()  # kept for the retry
        server = start_dest(port)
        assert attempt()  # a new association to the destination that came back
        result(3)
        assert attempt() and len(associations) == 2
        assert sorted(got) == sorted(str(f.SOPInstanceUID) for f in films)  # each once
        monkeypatch.setattr(sender_module, "IDLE_S", 0.0)
        assert attempt() and node._assoc is None  # released when there is nothing to send
    finally:
        node._release()
        with contextlib.suppress(ValueError):  # already shut down
            server.shutdown()
