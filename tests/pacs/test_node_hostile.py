"""The node as a hostile peer meets it, end to end on loopback: poison films, a dying scorer, a full disk, a huge film."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from dicom_peers import BASIC_SR, SC, SR, Destination, free_port, send, serve
from hostile_films import POISON, variant
from node_doubles import MARKER, CrashingModel, SlowModel

from cxr_miliary.pacs import node as node_module
from cxr_miliary.pacs.node import ModelSpec, Node
from cxr_miliary.pacs.settings import Destination as Dest
from cxr_miliary.pacs.settings import Limits
from cxr_miliary.phantom import generate_phantoms

pynetdicom = pytest.importorskip("pynetdicom")
pytestmark = pytest.mark.slow


def _until(check, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def _rows(out: Path) -> pd.DataFrame:
    path = out / "results.jsonl"
    return pd.read_json(path, lines=True) if path.exists() and path.stat().st_size else pd.DataFrame(columns=["key", "error"])


class _Running:
    """An in-process node with its wait() loop on a thread."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.code: list[int] = []
        node.start()
        self.port = node._server.server_address[1]
        self.thread = threading.Thread(target=lambda: self.code.append(node.wait()), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.node.stop()
        self.thread.join(30)


def test_poison_films_and_a_dying_scorer_never_stop_the_node(tiny_bundle, tmp_path, recwarn):
    """Classes 1 and 4: poison refused at C-STORE, quietly (pydicom's warnings about a sender's values stay off the
    console); a film that kills the scorer twice gets an error row and a "not analysed" report; the good films'
    SR and SC arrive; a killed scorer is started again (0xA700 meanwhile); a scorer that keeps dying stops the
    node with exit 1; a restart scores nothing twice."""
    generate_phantoms(7, tmp_path / "films", seed=81, size=160, formats=("dcm",))
    films = sorted((tmp_path / "films" / "images").glob("*.dcm"))
    good, crasher = films[:5], variant(films[5], tmp_path / "crash.dcm", ImageComments=MARKER.decode())
    with warnings.catch_warnings():  # crafting a 302-character UID warns here, as it should
        warnings.simplefilter("ignore")
        poison = [
            variant(films[6], tmp_path / f"{n}.dcm", POISON[n])
            for n in ("no-series", "no-sop-instance", "sop-class-hello", "two-series", "study-302")
        ]
    recwarn.clear()
    dest = Destination()
    out = tmp_path / "node"
    model = CrashingModel(str(tiny_bundle), precision="fp32")
    run = _Running(Node(model, out, port=free_port(), dest=Dest("127.0.0.1", dest.port, "DEST"), workers=0, batch_size=4))
    try:
        statuses = send(run.port, poison, as_written=True)  # valid commands, crafted data sets
        assert all(s in (0xC000, 0xA900) for s in statuses), statuses
        assert not [str(w.message)[:80] for w in recwarn if "VR UI" in str(w.message)]  # the node read them without a word on stderr
        assert send(run.port, [crasher, *good]) == [0] * 6
        assert _until(lambda: len(dest.unique(SR)) == 5 and len(dest.unique(SC)) == 5 and len(dest.unique(BASIC_SR)) == 1, 300)
        rows = _rows(out)
        assert len(rows) == 6 and (rows["error"].fillna("") != "").sum() == 1
        assert rows["error"].fillna("").str.startswith("scorer-crashed").sum() == 1
        (report,) = dest.unique(BASIC_SR).values()
        assert "NOT ANALYSED" in report.ContentSequence[0].TextValue
        assert len(run.node._deaths) == 2 and run.node.accepting() and not run.code

        # a scorer killed from outside: nothing is acknowledged while none runs, and it is started again
        child = run.node._child
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert not run.node.accepting()
        assert _until(run.node.accepting, 30) and len(run.node._deaths) == 3
        node_module.MAX_RESTARTS, before = 3, node_module.MAX_RESTARTS
        try:
            os.kill(run.node._child.pid, signal.SIGKILL)  # one death too many: exit 1 for a supervisor
            assert _until(lambda: run.code == [1], 30)
        finally:
            node_module.MAX_RESTARTS = before
    finally:
        run.stop()
    # a restart scores nothing twice
    again = _Running(Node(ModelSpec(str(tiny_bundle), precision="fp32"), out, port=free_port(), dest=Dest("127.0.0.1", dest.port, "DEST"), workers=0))
    try:
        time.sleep(8)
        assert len(_rows(out)) == 6 and dest.count() == 11
    finally:
        again.stop()
        dest.server.shutdown()


def _mount_small(folder: Path, mb: int) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return (
        os.geteuid() == 0
        and shutil.which("mount") is not None
        and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mb}m", "tmpfs", str(folder)], capture_output=True).returncode == 0
    )


def _fill(path: Path, leave: int) -> None:
    """A ballast file that leaves about ``leave`` bytes free (0: fills the disk)."""
    free = shutil.disk_usage(path.parent).free
    with open(path, "wb") as fh:
        try:
            fh.write(b"\0" * max(0, free - leave))
            fh.flush()
            os.fsync(fh.fileno())
        except OSError:
            pass


def test_a_full_disk_loses_nothing_acknowledged(tiny_bundle, tmp_path, capfd):
    """Class 2: films are refused 0xA700 before results run out of room; a disk that fills anyway makes the scorer
    wait, not die; once space is free, every acknowledged film is delivered, with no operator moving files."""
    small = tmp_path / "small"
    if not _mount_small(small, 48):
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    run = None
    dest = None
    try:
        generate_phantoms(10, tmp_path / "films", seed=82, size=512, formats=("dcm",))
        films = sorted((tmp_path / "films" / "images").glob("*.dcm"))
        port = free_port()
        node = Node(SlowModel(str(tiny_bundle), precision="fp32", delay_s=8), small / "node", port=free_port(), dest=Dest("127.0.0.1", port, "DEST"),
                    workers=0, batch_size=4, limits=Limits(reserve_bytes=2 * 2**20))  # fmt: skip
        run = _Running(node)
        _fill(small / "ballast", leave=14 * 2**20)
        statuses = [send(run.port, [f])[0] for f in films]
        acked = [f for f, s in zip(films, statuses, strict=True) if s == 0]
        assert acked and 0xA700 in statuses, statuses  # some taken, the rest refused while there was still room
        _fill(small / "ballast2", leave=0)  # now the disk fills anyway, before the scorer has written anything
        assert _until(lambda: "waiting for space" in capfd.readouterr().err, 60)  # the scorer's own log (its stderr)
        assert not node._deaths and node.accepting() and len(_rows(small / "node")) == 0  # it waits for space, it does not die
        (small / "ballast").unlink()
        (small / "ballast2").unlink()
        dest = Destination(port)
        assert _until(lambda: len(dest.unique(SR)) == len(acked) and len(dest.unique(SC)) == len(acked), 240)
        assert len(_rows(small / "node")) == len(acked) and not list((small / "node" / "dicom").glob("*.dcm"))  # delivered, then deleted
        refused = [f for f, s in zip(films, statuses, strict=True) if s != 0]
        assert send(run.port, refused) == [0] * len(refused)  # room again
        assert _until(lambda: len(dest.unique(SR)) == len(films), 240)
    finally:
        if run is not None:
            run.stop()
        if dest is not None:
            dest.server.shutdown()
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def test_a_huge_film_is_refused_with_flat_memory(tiny_bundle, tmp_path):
    """Class 11: a 100 MB C-STORE took the node from 0.3 to 1.57 GB; now it goes to a file and is refused 0xA700."""
    import numpy as np
    import pydicom

    films = tmp_path / "films"
    generate_phantoms(1, films, seed=83, size=160, formats=("dcm",))
    ds = pydicom.dcmread(next((films / "images").glob("*.dcm")))
    big = np.zeros((7200, 7200), np.uint16)  # 99 MB of pixels
    ds.Rows = ds.Columns = 7200
    ds.PixelData = big.tobytes()
    huge = tmp_path / "huge.dcm"
    ds.save_as(huge, enforce_file_format=True)
    del big, ds
    dest = Destination()
    port = free_port()
    proc = serve(port, tmp_path / "node", dest, tiny_bundle, "--max-film-mb", "64")
    try:
        time.sleep(3)
        before = _peak_rss_kb(proc.pid)
        assert send(port, [huge], as_written=True) == [0xA700]
        grew_mb = (_peak_rss_kb(proc.pid) - before) / 1024
        assert grew_mb < 30, f"the node's peak memory grew by {grew_mb:.0f} MB for a 99 MB film"
        assert not list((tmp_path / "node" / "queue").glob("*.dcm")) and not list((tmp_path / "node" / "queue" / ".incoming").iterdir())
    finally:
        proc.terminate()
        proc.wait(30)
        dest.server.shutdown()
