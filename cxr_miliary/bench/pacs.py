"""``cxr-miliary bench pacs``: the DICOM node against ``score --dicom-out`` on the same films.

A site can run the tool two ways: a batch (``score --dicom-out``, SR + SC files written
next to a table) or a node (``serve``: films arrive by C-STORE, results leave by C-STORE).
This measures both on the same phantom DICOMs on this machine: the batch as a whole
process (start-up included), the node from the first C-STORE in until every film's SR and
SC have arrived at a destination (a storage SCP on loopback; the node already running:
that is how it is used). Benchmarks, not tests.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
        time.sleep(0.3)
    raise RuntimeError("serve never listened")


def _rows(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _send(port: int, files: list[Path]) -> int:
    """C-STORE every file over one association; how many were acknowledged."""
    import logging

    import pydicom
    from pynetdicom import AE

    logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # one line per C-STORE otherwise
    ae = AE(ae_title="BENCH")
    classes = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPClassUID) for f in files}
    for uid in classes:
        ae.add_requested_context(uid)
    assoc = ae.associate("127.0.0.1", port, ae_title="CXR-MILIARY")
    if not assoc.is_established:
        raise RuntimeError("the node refused the association")
    ok = 0
    try:
        for f in files:
            status = assoc.send_c_store(pydicom.dcmread(f))
            ok += bool(status) and status.Status == 0x0000
    finally:
        assoc.release()
    return ok


class _Destination:
    """A PACS stand-in on loopback: a storage SCP that counts what arrives, by SOP class."""

    def __init__(self) -> None:
        import threading

        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

        self.port = _free_port()
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        ae = AE(ae_title="DEST")
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)])

    def _store(self, event: Any) -> int:
        with self.lock:
            uid = str(event.request.AffectedSOPClassUID)
            self.counts[uid] = self.counts.get(uid, 0) + 1
        return 0x0000

    def received(self) -> int:
        with self.lock:
            return sum(self.counts.values())

    def close(self) -> None:
        self.server.shutdown()


def pacs_bench(weights: str | None, *, n: int = 64, size: int = 2048, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Films per second of ``serve`` (first C-STORE to last result) and of ``score --dicom-out`` (whole process)."""
    from ..inference.fastpath import machine
    from ..phantom import generate_phantoms

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_phantoms(n, root / "films", seed=9494, size=size, formats=("dcm",), workers=2)
        files = sorted((root / "films" / "images").glob("*.dcm"))
        w = ["--weights", weights] if weights else []
        base = [sys.executable, "-m", "cxr_miliary", "--quiet"]
        subprocess.run([*base, "score", str(files[0]), "--out", str(root / "warm.csv"), *w], capture_output=True)  # fast path measured once
        t = time.perf_counter()
        done = subprocess.run(
            [*base, "score", *map(str, files), "--out", str(root / "s.csv"), "--dicom-out", str(root / "sr"), *w], capture_output=True
        )
        batch = time.perf_counter() - t
        if done.returncode not in (0, 1):
            raise RuntimeError(done.stderr.decode()[-500:])

        port, node, dest = _free_port(), root / "node", _Destination()
        serve = [*base, "serve", "--port", str(port), "--out", str(node), "--dest", f"127.0.0.1:{dest.port}:DEST", *w]
        proc = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_listening(port, proc)
            t = time.perf_counter()
            acked = _send(port, files)
            sent = time.perf_counter() - t
            # done when every film's SR and SC have arrived at the destination
            while dest.received() < 2 * acked and proc.poll() is None and time.perf_counter() - t < 1800:
                time.sleep(0.05)
            served = time.perf_counter() - t
            rows, arrived = _rows(node / "results.jsonl"), dest.received()
        finally:
            proc.terminate()
            proc.wait(30)
            dest.close()
    res = {
        "machine": machine("cpu"),
        "films": n,
        "size": size,
        "score_dicom_out_s": batch,
        "serve_s": served,
        "serve_receive_s": sent,
        "serve_results": rows,
        "serve_objects_received": arrived,
        "score_films_per_s": n / batch,
        "serve_films_per_s": arrived / 2 / served,
        "serve_vs_score": (arrived / 2 / served) / (n / batch),
    }
    log(
        f"{n} phantom DICOMs at {size}², {res['machine']}:\n"
        f"  score --dicom-out (whole process, start-up included): {batch:.1f} s = {res['score_films_per_s']:.2f} films/s\n"
        f"  serve (running; first C-STORE in to the last SR and SC received at the destination): {served:.1f} s = "
        f"{res['serve_films_per_s']:.2f} films/s = {res['serve_vs_score']:.2f}x score ({rows} results, {arrived} objects "
        f"received; receiving the films took {sent:.1f} s)"
    )
    return res
