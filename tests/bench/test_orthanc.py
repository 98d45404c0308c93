"""The Orthanc harness: a private Orthanc starts, takes a film over REST, counts it, and leaves nothing behind."""

from __future__ import annotations

import pytest

from cxr_miliary.bench import orthanc
from cxr_miliary.phantom import generate_phantoms


def test_result_rows_are_read_up_to_a_line_being_written(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"key": 1, "dicom_outputs": "a.dcm;b.dcm"}\n{"key": 2}\n{"key": 3, "dicom_ou')
    assert [r["key"] for r in orthanc._results(tmp_path / "r.jsonl")] == [1, 2] and orthanc._results(tmp_path / "none.jsonl") == []


def test_a_missing_orthanc_is_said_before_any_work(monkeypatch):
    monkeypatch.setattr(orthanc, "ORTHANC", "/nonexistent/Orthanc")
    assert not orthanc.available()
    with pytest.raises(RuntimeError, match="apt install orthanc orthanc-dicomweb"):
        orthanc.orthanc_bench(None, n=1, size=64)


@pytest.mark.skipif(not orthanc.available(), reason="Orthanc not installed (make test installs Debian's orthanc and orthanc-dicomweb as root)")
def test_a_private_orthanc_stores_and_lists_a_film(tmp_path):
    generate_phantoms(1, tmp_path / "f", seed=5, size=64, formats=("dcm",))
    film = next((tmp_path / "f" / "images").glob("*.dcm"))
    pacs = orthanc.Orthanc(11112, folder=str(tmp_path / "orthanc"))
    try:
        instance = pacs.upload(film)
        assert pacs.instances() == 1
        (study,) = pacs.studies().values()
        (entry,) = study["DX"]
        assert entry["id"] == instance and pacs.file(instance)[128:132] == b"DICM"
        assert pacs.dicomweb == pacs.url + "/dicom-web"
    finally:
        pacs.stop()
    assert pacs.proc.poll() is not None and not (tmp_path / "orthanc").exists()
