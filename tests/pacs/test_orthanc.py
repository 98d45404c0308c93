"""A real PACS on both sides: Orthanc sends films to the node and takes its results back (DIMSE and DICOMweb); no routing loops."""

from __future__ import annotations

import json
import time
from pathlib import Path

import highdicom as hd
import pandas as pd
import pydicom
import pytest
from dicom_peers import free_port

from cxr_miliary.bench import orthanc as orthanc_mod
from cxr_miliary.cli.main import main
from cxr_miliary.pacs.node import ModelSpec, Node
from cxr_miliary.pacs.settings import Destination
from cxr_miliary.phantom import generate_phantoms

pytest.importorskip("pynetdicom")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not orthanc_mod.available(), reason="Orthanc not installed (make test installs Debian's orthanc and orthanc-dicomweb as root)"
    ),
]
SR, SC = "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.7"
REAL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real" / "CR-MONO1-10-chest.dcm"


def _until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    """Three DX phantoms, one chest film stored as Secondary Capture (modality OT, no spacing), and the real CR when it is there."""
    root = tmp_path_factory.mktemp("orthanc_films")
    generate_phantoms(4, root, seed=95, size=384, formats=("dcm",))
    files = sorted((root / "images").glob("*.dcm"))
    ds = pydicom.dcmread(files[-1])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SC
    ds.Modality, ds.ConversionType = "OT", "DF"
    for k in ("ImagerPixelSpacing", "PixelSpacing", "ViewPosition"):
        if k in ds:
            delattr(ds, k)
    ds.save_as(files[-1], enforce_file_format=True)
    return files + ([REAL] if REAL.exists() else [])


def _probabilities(files, tiny_bundle, tmp_path) -> dict[str, float]:
    table = tmp_path / "score.csv"
    main(["--quiet", "score", *map(str, files), "--weights", str(tiny_bundle), "--precision", "fp32", "--out", str(table), "--workers", "0"])
    df = pd.read_csv(table, keep_default_na=False)
    return {
        str(pydicom.dcmread(p, stop_before_pixels=True, force=True).SOPInstanceUID): float(v)
        for p, v in zip(df["path"], df["probability"], strict=True)
        if v != ""
    }


def _sr_probability(pacs, instance_id: str) -> tuple[str, float]:
    from io import BytesIO

    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(BytesIO(pacs.file(instance_id))))
    (group,) = hd.sr.MeasurementReport.from_sequence([sr]).get_image_measurement_groups()
    prob = next(m.value for m in group.get_measurements() if m.name.value == "PROB")
    return str(group.source_images[0].referenced_sop_instance_uid), float(prob)


def test_orthanc_sends_films_and_files_each_result_once_in_its_study(films, tiny_bundle, tmp_path):
    """Orthanc -> node -> Orthanc by C-STORE, an SC chest film among the films: each study holds its film, one SC, one SR."""
    node_port = free_port()
    pacs = orthanc_mod.Orthanc(node_port)
    node = Node(ModelSpec(str(tiny_bundle), precision="fp32"), tmp_path / "node", port=node_port,
                dest=Destination("127.0.0.1", pacs.dicom_port, pacs.aet), workers=0, batch_size=4, allow_ae=["ORTHANC"])  # fmt: skip
    node.start()
    try:
        ids = [pacs.upload(f) for f in films]
        pacs.send_to_node(ids)  # one send job, as a router's
        n = len(films)
        done = _until(lambda: sum(len(s.get("SR", [])) for s in pacs.studies().values()) >= n, 240)
        time.sleep(3)  # nothing more arrives
        studies = pacs.studies()
        reported = dict(_sr_probability(pacs, s["id"]) for by in studies.values() for s in by.get("SR", []))
        rows = [json.loads(line) for line in (tmp_path / "node" / "results.jsonl").read_text().splitlines()]
    finally:
        node.stop()
        pacs.stop()
    assert done, studies
    want = _probabilities(films, tiny_bundle, tmp_path)
    for by_modality in studies.values():
        ours = [s for m in by_modality.values() for s in m if s["Manufacturer"] == "cxr-miliary"]
        assert sorted(s["SOPClassUID"] for s in ours) == sorted([SC, SR])  # exactly one SC and one SR per study, nothing twice
    assert len(studies) == len(films)
    assert reported.keys() == want.keys()  # every film has its SR, the SC film included
    assert all(abs(reported[k] - want[k]) < 1e-3 for k in want)  # the same probability score gives
    (sc_row,) = [r for r in rows if "secondary capture" in json.dumps(r)]  # the SC film's row keeps its warnings
    assert "pixel spacing unknown" in json.dumps(sc_row) and sc_row["probability"] is not None


def test_a_pacs_that_routes_everything_back_gets_each_result_once(films, tiny_bundle, tmp_path):
    """The loop guard: Orthanc's Lua script sends every stored instance - the node's own results included - back to the node."""
    node_port = free_port()
    pacs = orthanc_mod.Orthanc(node_port, route_everything=True)
    node = Node(ModelSpec(str(tiny_bundle), precision="fp32"), tmp_path / "node", port=node_port,
                dest=Destination("127.0.0.1", pacs.dicom_port, pacs.aet), workers=0, batch_size=4, allow_ae=["ORTHANC"])  # fmt: skip
    node.start()
    try:
        for f in films[:3]:
            pacs.upload(f)  # stored -> routed to the node by the script
        assert _until(lambda: sum(len(s.get("SR", [])) for s in pacs.studies().values()) >= 3, 240)
        # every result comes back and is dropped (a node that scored one would fall short here, and
        # its rows show it below); then a quiet spell in which nothing more may come
        _until(lambda: node.counts.looped >= 6, 120)
        time.sleep(10)
        studies = pacs.studies()
        rows = [json.loads(line) for line in (tmp_path / "node" / "results.jsonl").read_text().splitlines()]
    finally:
        node.stop()
        pacs.stop()
    assert len(rows) == 3  # each film scored once; no result of a result
    ours = [s for by in studies.values() for m in by.values() for s in m if s["Manufacturer"] == "cxr-miliary"]
    assert len(ours) == 6 and len({s["SOPInstanceUID"] for s in ours}) == 6  # each result stored once
    assert node.counts.looped >= 6  # every result came back and was dropped


def test_results_reach_orthanc_by_dicomweb_and_are_found_by_qido(films, tiny_bundle, tmp_path):
    """serve --dest-web and score --dicom-out --stow: SR and SC found by QIDO-RS in the film's study."""
    from dicomweb_client.api import DICOMwebClient

    node_port = free_port()
    pacs = orthanc_mod.Orthanc(node_port)
    node = Node(ModelSpec(str(tiny_bundle), precision="fp32"), tmp_path / "node", port=node_port, dest=pacs.dicomweb,
                workers=0, batch_size=4, allow_ae=["ORTHANC"])  # fmt: skip
    node.start()
    try:
        ids = [pacs.upload(f) for f in films[:2]]
        pacs.send_to_node(ids)
        client = DICOMwebClient(url=pacs.dicomweb)
        study = str(pydicom.dcmread(films[0], stop_before_pixels=True).StudyInstanceUID)

        def found() -> set[str]:
            return {str(s.get("00080060", {}).get("Value", [""])[0]) for s in client.search_for_series(study_instance_uid=study)}

        assert _until(lambda: {"SR", "OT"} <= found(), 240), found()
        # score --dicom-out --stow: the other films' results, each once even when run twice
        out = tmp_path / "pacs_out"
        argv = ["--quiet", "score", *map(str, films[2:3]), "--weights", str(tiny_bundle), "--precision", "fp32", "--out", str(tmp_path / "s.csv"),
                "--dicom-out", str(out), "--stow", pacs.dicomweb, "--workers", "0"]  # fmt: skip
        assert main(argv) == 0
        assert main([*argv, "--resume"]) == 0
        third = str(pydicom.dcmread(films[2], stop_before_pixels=True).StudyInstanceUID)
        series = client.search_for_series(study_instance_uid=third)
        stored = [i for s in series for i in client.search_for_instances(study_instance_uid=third, series_instance_uid=s["0020000E"]["Value"][0])]
        # one SC, one SR (the film itself was never in Orthanc)
        assert sorted(s["00080060"]["Value"][0] for s in series) == ["OT", "SR"] and len(stored) == 2
        assert len((out / ".stow-sent.jsonl").read_text().splitlines()) == 2  # the rerun sent nothing twice
    finally:
        node.stop()
        pacs.stop()
