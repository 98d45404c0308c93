"""Transports: what a STOW-RS service's answers mean to the sender (stored, refused, unreachable); status words."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dicom_peers import free_port

from cxr_miliary.phantom import generate_phantoms

pytest.importorskip("dicomweb_client")
pytest.importorskip("pynetdicom")

from cxr_miliary.pacs.transports import REFUSED, STORED, UNREACHABLE, Stow, status_text  # noqa: E402

OK = {"00081199": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2.3"]}}]}}
FAILED = {"00081198": {"vr": "SQ", "Value": [{"00081197": {"vr": "US", "Value": [272]}}]}}


class _Service:
    """A STOW-RS stand-in that answers every POST with the status and JSON body set on it, and counts the requests."""

    def __init__(self) -> None:
        self.status, self.body, self.posts = 200, OK, 0
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.posts += 1
                data = json.dumps(service.body).encode()
                self.send_response(service.status)
                self.send_header("Content-Type", "application/dicom+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dicom-web"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    root = tmp_path_factory.mktemp("stow")
    generate_phantoms(1, root, seed=17, size=64, formats=("dcm",))
    return next((root / "images").glob("*.dcm"))


def test_stow_answers_are_stored_refused_or_unreachable(film):
    service = _Service()
    try:
        stow = Stow(service.url + "/")
        assert stow.name == service.url and stow.assoc is None and stow.ready()
        assert stow.send(film, "SC").kind == STORED
        service.body = FAILED  # 200, but the service lists the object as failed
        out = stow.send(film, "SC")
        assert out.kind == REFUSED and "272" in out.said
        service.status, service.body = 400, {}
        out = stow.send(film, "SR")
        assert out.kind == REFUSED and "HTTP 400" in out.said
        service.status = 503  # not there now: the sender waits, nothing counted against the object
        assert stow.send(film, "SR").kind == UNREACHABLE
        assert service.posts >= 4
    finally:
        service.close()
    assert Stow(f"http://127.0.0.1:{free_port()}/dicom-web").send(film, "SR").kind == UNREACHABLE  # nobody listening


def test_status_words():
    assert status_text(0x0000).startswith("0x0000 (Success")
    assert "Out of Resources" in status_text(0xA700)
    assert status_text(0x1234) == "0x1234 (unknown status)"


def test_a_dimse_destination_nobody_listens_on_says_so_and_one_that_hangs_up_says_that():
    """pynetdicom calls both 'aborted': the administrator needs to know whether anything listens at all."""
    import socket

    from cxr_miliary.pacs.settings import Destination
    from cxr_miliary.pacs.transports import Dimse

    nobody = Dimse(Destination("127.0.0.1", free_port(), "PACS"), "CXR-MILIARY")
    assert (
        nobody.ready() is False and nobody.problem.startswith(f"destination {nobody.name} is not reachable (") and "refused" in nobody.problem.lower()
    )
    with socket.socket() as hang_up:  # listens, and closes every connection it takes
        hang_up.bind(("127.0.0.1", 0))
        hang_up.listen()
        stop = threading.Event()

        def close_all() -> None:
            hang_up.settimeout(0.2)
            while not stop.is_set():
                try:
                    hang_up.accept()[0].close()
                except OSError:
                    continue

        t = threading.Thread(target=close_all, daemon=True)
        t.start()
        rude = Dimse(Destination("127.0.0.1", hang_up.getsockname()[1], "PACS"), "CXR-MILIARY")
        assert rude.ready() is False and rude.problem == f"destination {rude.name} aborted the association"
        stop.set()
        t.join()
