"""``cxr-miliary serve`` with real DICOM clients on loopback: C-ECHO, C-STORE in, SR + SC out, kill -9 and restart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pydicom
import pytest
from dicom_peers import SC, SR, Destination, free_port, send_all, serve

from cxr_miliary.phantom import generate_phantoms

pynetdicom = pytest.importorskip("pynetdicom")
pytestmark = pytest.mark.slow


#: Films sent across the kill: enough that the kill lands with some queued, some scored and some
#: not yet sent (a quarter queued), few enough to keep the suite quick (200 took 2.5 min on an AVX2 EPYC).
N_FILMS = 100


def test_a_node_scores_what_it_receives_exactly_once_across_a_kill(tiny_bundle, tmp_path):
    films = tmp_path / "films"
    generate_phantoms(N_FILMS, films, seed=61, size=160, formats=("dcm",), workers=2)
    files = sorted((films / "images").glob("*.dcm"))
    dest = Destination()
    port, out = free_port(), tmp_path / "node"
    proc = serve(port, out, dest, tiny_bundle)
    try:
        from pynetdicom import AE
        from pynetdicom.sop_class import Verification

        echo = AE(ae_title="ECHOSCU")
        echo.add_requested_context(Verification)
        assoc = echo.associate("127.0.0.1", port, ae_title="CXR-MILIARY")
        assert assoc.is_established and assoc.send_c_echo().Status == 0x0000
        assoc.release()
        intruder = AE(ae_title="INTRUDER")
        intruder.add_requested_context(Verification)
        assert not intruder.associate("127.0.0.1", port, ae_title="CXR-MILIARY").is_established  # --allow-ae
        # a non-image SOP class is refused with its status
        other = AE(ae_title="SENDER")
        other.add_requested_context(SR)
        assoc = other.associate("127.0.0.1", port, ae_title="CXR-MILIARY")
        report = pydicom.dcmread(next(iter([files[0]])))  # an image relabelled as an SR: the SOP class decides
        report.SOPClassUID = SR
        assert assoc.send_c_store(report).Status == 0x0122
        assoc.release()

        # all of them over 4 associations; kill -9 mid-stream, once a quarter are queued and some scored
        sending = threading.Thread(target=lambda: left.extend(send_all(port, files)))
        left: list[Path] = []
        sending.start()
        deadline = time.time() + 300
        while time.time() < deadline and len(list((out / "queue").glob("*.dcm"))) < N_FILMS // 4:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        sending.join()
        assert 0 < len(left) < N_FILMS  # the kill cut the stream: what was not acknowledged is sent again after the restart
        proc = serve(port, out, dest, tiny_bundle)
        again = send_all(port, left)
        assert not again, f"{len(again)} not acknowledged"
        deadline = time.time() + 600
        while time.time() < deadline and (len(dest.unique(SR)) < N_FILMS or len(dest.unique(SC)) < N_FILMS):
            time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(30)
        dest.server.shutdown()
    srs, scs = dest.unique(SR), dest.unique(SC)
    assert len(srs) == N_FILMS and len(scs) == N_FILMS  # nothing lost, nothing twice
    rows = pd.read_json(out / "results.jsonl", lines=True)
    assert len(rows) == N_FILMS and rows["key"].is_unique
    # each SR's probability equals score's for the same film
    table = tmp_path / "s.csv"
    from cxr_miliary.cli.main import main

    assert (
        main(["--quiet", "score", str(films / "images"), "--weights", str(tiny_bundle), "--precision", "fp32", "--out", str(table), "--workers", "0"])
        == 0
    )
    score = pd.read_csv(table)
    by_sop = {
        str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): prob for p, prob in zip(score["path"], score["probability"], strict=True)
    }
    import highdicom as hd

    for ds in srs.values():
        report = hd.sr.MeasurementReport.from_sequence([hd.sr.Comprehensive3DSR.from_dataset(ds)])
        (group,) = report.get_image_measurement_groups()
        prob = next(m.value for m in group.get_measurements() if m.name.value == "PROB")
        src = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        assert prob == pytest.approx(by_sop[str(src)], abs=1e-6)


@pytest.mark.skipif(not shutil.which("storescu"), reason="DCMTK not installed (make test installs it as root)")
def test_dcmtk_clients_echo_and_store(tiny_bundle, tmp_path):
    films = tmp_path / "films"
    generate_phantoms(3, films, seed=62, size=160, formats=("dcm",))
    dest = Destination()
    port = free_port()
    proc = serve(port, tmp_path / "node", dest, tiny_bundle)
    try:
        assert subprocess.run(["echoscu", "-aet", "ECHOSCU", "-aec", "CXR-MILIARY", "127.0.0.1", str(port)], capture_output=True).returncode == 0
        files = [str(p) for p in sorted((films / "images").glob("*.dcm"))]
        assert (
            subprocess.run(["storescu", "-aet", "STORESCU", "-aec", "CXR-MILIARY", "127.0.0.1", str(port), *files], capture_output=True).returncode
            == 0
        )
        refused = subprocess.run(["echoscu", "-aet", "NOBODY", "-aec", "CXR-MILIARY", "127.0.0.1", str(port)], capture_output=True)
        assert refused.returncode != 0
        deadline = time.time() + 180
        while time.time() < deadline and len(dest.unique(SR)) < 3:
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(30)
        dest.server.shutdown()
    assert len(dest.unique(SR)) == 3 and len(dest.unique(SC)) == 3
