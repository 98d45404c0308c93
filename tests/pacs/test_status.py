"""The node's status page: right counts after films are sent and when the destination goes down; read-only; never stalls the node."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from dicom_peers import Destination, free_port, send

from cxr_miliary.bench.review import FLAGS, chromium
from cxr_miliary.pacs.node import ModelSpec, Node
from cxr_miliary.pacs.settings import Destination as Dest
from cxr_miliary.pacs.status import StatusServer
from cxr_miliary.phantom import generate_phantoms

pytest.importorskip("pynetdicom")


def _get(url: str, method: str = "GET") -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _until(check, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


@pytest.fixture
def films(tmp_path):
    generate_phantoms(4, tmp_path / "ph", seed=61, size=256, formats=("dcm",))
    return sorted((tmp_path / "ph" / "images").glob("*.dcm"))


def test_the_status_follows_films_and_a_destination_that_goes_down(films, tiny_bundle, tmp_path):
    dest = Destination()
    port = free_port()
    node = Node(
        ModelSpec(str(tiny_bundle), precision="fp32"),
        tmp_path / "node",
        port=port,
        dest=Dest("127.0.0.1", dest.port, "DEST"),
        workers=0,
        batch_size=4,
    )
    node.start()
    status = StatusServer(node, 0).start()
    js = status.url + "status.json"
    try:
        assert status.httpd.server_address[0] == "127.0.0.1"
        assert send(port, films[:3]) == [0, 0, 0]
        assert _until(lambda: json.loads(_get(js)[1])["delivery"]["objects_delivered"] == 6)
        s = json.loads(_get(js)[1])
        assert s["since_start"]["received"] == 3 and s["results"]["total"] == 3 and s["results"]["last_hour"] == 3
        assert s["queue"] == {"waiting": 0, "being_scored": 0, "bytes": 0} and s["delivery"]["reachable"] is True
        assert s["results"]["films_per_minute"] > 0 and s["node"]["scorer"] == "running"
        for assoc in dest.server.active_associations:  # the PACS goes away, the open association with it
            assoc.abort()
        dest.server.shutdown()
        assert send(port, films[3:]) == [0]
        assert _until(lambda: json.loads(_get(js)[1])["delivery"]["reachable"] is False, 30), _get(js)[1].decode()
        s = json.loads(_get(js)[1])
        assert (
            s["delivery"]["objects_waiting"] == 2
            and s["delivery"]["problem"].startswith("destination 127.0.0.1")
            and s["delivery"]["next_try_s"] is not None
        )
        code, page = _get(status.url)
        text = page.decode()
        assert code == 200 and "objects waiting</th><td>2" in text and "no: destination 127.0.0.1" in text
        if chromium() is not None:  # as a browser shows it
            shown = subprocess.run(
                [chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", status.url], capture_output=True, text=True, timeout=120
            )
            assert "objects waiting</th><td>2" in shown.stdout and "in all</th><td>4" in shown.stdout, shown.stderr[-500:]
        code, review = _get(status.url + "review")
        assert code == 200 and review.count(b'"p":') == 4  # the four results, one link away
        for f in films:  # no identifier or UID on either page
            assert str(__import__("pydicom").dcmread(f, stop_before_pixels=True).SOPInstanceUID).encode() not in page + review
    finally:
        status.stop()
        node.stop()


def test_the_status_page_is_read_only_and_a_stalled_client_stalls_nothing(tiny_bundle, tmp_path):
    node = Node(ModelSpec(str(tiny_bundle), precision="fp32"), tmp_path / "node", port=free_port(), workers=0)
    status = StatusServer(node, 0).start()  # the page answers even before the node listens
    try:
        for method in ("POST", "PUT", "DELETE"):
            code, _ = _get(status.url, method)
            assert code == 405
        assert _get(status.url + "nothing")[0] == 404
        host, port = status.httpd.server_address[:2]
        stalled = socket.create_connection((host, port))
        stalled.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never ends its headers
        huge = socket.create_connection((host, port))
        huge.sendall(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
        assert huge.recv(64).startswith(b"HTTP/1.0 414")
        t = time.monotonic()
        code, body = _get(status.url + "status.json")
        assert code == 200 and time.monotonic() - t < 5 and json.loads(body)["delivery"]["destination"] is None
        stalled.close()
        huge.close()
        assert not any((tmp_path / "node").glob("*.jsonl"))  # nothing written by looking
    finally:
        status.stop()
