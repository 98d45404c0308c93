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


def _send(port: int, files: list[Path]) -> tuple[int, str]:
    """C-STORE every file over one association, as a modality does: (how many were acknowledged, the client).

    DCMTK's ``storescu`` where it is installed (a C++ sender, as a modality's is; a run in
    which it could not store every film is an error); else pynetdicom sending each file as written, in
    its own transfer syntax (decoding and encoding 8 MB films in Python would put the
    client's cost on the node's cores).
    """
    import shutil

    if shutil.which("storescu"):
        done = subprocess.run(["storescu", "-aet", "BENCH", "-aec", "CXR-MILIARY", "127.0.0.1", str(port), *map(str, files)], capture_output=True)
        if done.returncode != 0:  # some film was not stored: a figure from this run would be wrong
            raise RuntimeError(f"storescu could not store every film: {done.stderr.decode(errors='replace')[-500:]}")
        return len(files), "DCMTK storescu"
    from pynetdicom import AE, _config

    _config.STORE_SEND_CHUNKED_DATASET = True
    ae = AE(ae_title="BENCH")
    for uid, syntax in {_class_and_syntax(f) for f in files}:
        ae.add_requested_context(uid, syntax)
    assoc = ae.associate("127.0.0.1", port, ae_title="CXR-MILIARY")
    if not assoc.is_established:
        raise RuntimeError("the node refused the association")
    ok = 0
    try:
        for f in files:
            status = assoc.send_c_store(f)
            ok += bool(status) and status.Status == 0x0000
    finally:
        assoc.release()
    return ok, "pynetdicom (files as written)"


def _class_and_syntax(path: Path) -> tuple[str, str]:
    import pydicom

    head = pydicom.dcmread(path, stop_before_pixels=True)
    return str(head.SOPClassUID), str(head.file_meta.TransferSyntaxUID)


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


def _score_once(base: list[str], files: list[Path], root: Path, w: list[str]) -> float:
    """``score --dicom-out`` on the films as a whole process: seconds."""
    import shutil

    shutil.rmtree(root / "sr", ignore_errors=True)
    t = time.perf_counter()
    done = subprocess.run([*base, "score", *map(str, files), "--out", str(root / "s.csv"), "--dicom-out", str(root / "sr"), *w], capture_output=True)
    took = time.perf_counter() - t
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr.decode()[-500:])
    (root / "s.csv").unlink()
    return took


def bench_films(root: Path, n: int, size: int, seed: int, weights: str | None) -> tuple[list[Path], list[str], list[str]]:
    """``n`` phantom DICOMs at ``size`` in ``root/films``, the CLI command's start and its ``--weights``; the fast path measured once first."""
    from ..phantom import generate_phantoms

    generate_phantoms(n, root / "films", seed=seed, size=size, formats=("dcm",), workers=2)
    files = sorted((root / "films" / "images").glob("*.dcm"))
    w = ["--weights", weights] if weights else []
    base = [sys.executable, "-m", "cxr_miliary", "--quiet"]
    subprocess.run([*base, "score", str(files[0]), "--out", str(root / "warm.csv"), *w], capture_output=True)  # so no run pays for it
    return files, base, w


def _serve_once(base: list[str], files: list[Path], node: Path, w: list[str]) -> dict[str, Any]:
    """A fresh node (not timed while it starts), the films sent in, timed until every SR and SC has arrived."""
    port, dest = _free_port(), _Destination()
    serve = [*base, "serve", "--port", str(port), "--out", str(node), "--dest", f"127.0.0.1:{dest.port}:DEST", *w]
    proc = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(port, proc)
        t = time.perf_counter()
        acked, client = _send(port, files)
        sent = time.perf_counter() - t
        # done when every film's SR and SC have arrived at the destination
        while dest.received() < 2 * acked and proc.poll() is None and time.perf_counter() - t < 1800:
            time.sleep(0.02)
        served = time.perf_counter() - t
        return {"s": served, "receive_s": sent, "client": client, "results": _rows(node / "results.jsonl"), "objects": dest.received()}
    finally:
        proc.terminate()
        proc.wait(30)
        dest.close()


def pacs_bench(weights: str | None, *, n: int = 64, size: int = 2048, repeats: int = 3, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Films per second of ``serve`` (first C-STORE to last result) and of ``score --dicom-out`` (whole process).

    The two are run in turn ``repeats`` times; the ratio is the median of the pairs' ratios.
    """
    import logging
    import statistics

    from ..inference.fastpath import machine

    logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # the destination's lines, one per C-STORE otherwise
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files, base, w = bench_films(root, n, size, 9494, weights)
        batches, served = [], []
        for k in range(repeats):
            batches.append(_score_once(base, files, root, w))
            served.append(_serve_once(base, files, root / f"node{k}", w))
    arrived = min(s["objects"] for s in served)
    batch, serve = statistics.median(batches), statistics.median(s["s"] for s in served)
    res = {
        "machine": machine("cpu"),
        "films": n,
        "size": size,
        "repeats": repeats,
        "client": served[0]["client"],
        "score_dicom_out_s": batch,
        "serve_s": serve,
        "serve_receive_s": statistics.median(s["receive_s"] for s in served),
        "serve_results": min(s["results"] for s in served),
        "serve_objects_received": arrived,
        "score_films_per_s": n / batch,
        "serve_films_per_s": arrived / 2 / serve,
        "serve_vs_score_each": [b / s["s"] * s["objects"] / 2 / n for b, s in zip(batches, served, strict=True)],
    }
    # the ratio is taken within each pair (run one after the other), then the median: this
    # VM's speed drifts by 15 % within minutes, and a ratio across runs would carry the drift
    res["serve_vs_score"] = statistics.median(res["serve_vs_score_each"])
    each = ", ".join(f"{r:.2f}" for r in res["serve_vs_score_each"])
    log(
        f"{n} phantom DICOMs at {size}², {res['machine']}, median of {repeats} runs of each in turn:\n"
        f"  score --dicom-out (whole process, start-up included): {batch:.1f} s = {res['score_films_per_s']:.2f} films/s\n"
        f"  serve (running; first C-STORE in to the last SR and SC received at the destination): {serve:.1f} s = "
        f"{res['serve_films_per_s']:.2f} films/s; serve at {res['serve_vs_score']:.2f}x score (median of the pairs: {each}; "
        f"{res['serve_results']} results, {arrived} objects received; the films sent by {res['client']} in {res['serve_receive_s']:.1f} s)"
    )
    return res
