"""The one writer of a result's files: names free of the file's tags, all or nothing, a report for a film with no result."""

from __future__ import annotations

import pydicom
import pytest

from cxr_miliary import Predictor
from cxr_miliary.inference.result import error_result
from cxr_miliary.outputs.files import Outputs, cam_dir_names, file_stem, maps_needed


def test_names_are_unique_per_input_and_say_nothing_of_it(tmp_path):
    a, b = file_stem(3, "/data/Smith^John/img.dcm"), file_stem(4, "/data/Smith^John/img.dcm")
    assert a != b and "Smith" not in a and a.startswith("0000003_")
    m, o = cam_dir_names(tmp_path, 3, "/x.dcm", "full", "png")
    assert m.suffix == ".npy" and o.suffix == ".png" and m.parent == tmp_path
    assert maps_needed(False, None, tmp_path) and not maps_needed(False)


def test_a_film_with_no_result_gets_a_not_analysed_report_only_when_asked(tiny_bundle, phantom_dir, tmp_path):
    scorer = Predictor.load(tiny_bundle, precision="fp32").scorer
    src = str(phantom_dir / "images" / "ph0021_000000.dcm")
    failed = error_result(scorer, 0, src, "lateral-view: view LL is a lateral projection")
    Outputs(dicom_out=tmp_path / "quiet").write(failed)
    assert not (tmp_path / "quiet").exists() or not list((tmp_path / "quiet").iterdir())
    Outputs(dicom_out=tmp_path / "node", not_analysed=True).write(failed)
    (report,) = (tmp_path / "node").glob("*.dcm")
    ds = pydicom.dcmread(report)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.11" and "NOT ANALYSED" in ds.ContentSequence[0].TextValue
    assert "lateral-view" in ds.ContentSequence[0].TextValue and failed.files["dicom_outputs"] == str(report)


def test_a_png_input_has_no_study_for_a_report(tiny_bundle, phantom_dir, tmp_path):
    scorer = Predictor.load(tiny_bundle, precision="fp32").scorer
    failed = error_result(scorer, 0, str(phantom_dir / "images" / "ph0021_000000.png"), "not-chest: no lungs")
    Outputs(dicom_out=tmp_path, not_analysed=True).write(failed)
    assert not list(tmp_path.glob("*.dcm")) and "dicom_outputs" not in failed.files


@pytest.mark.parametrize("fmt", ["compact", "full"])
def test_maps_and_overlays_are_written_for_a_scored_film(tiny_bundle, phantom_dir, tmp_path, fmt):
    p = Predictor.load(tiny_bundle, precision="fp32")
    r = p.result(str(phantom_dir / "images" / "ph0021_000000.dcm"), cam=True, preview_side=256)
    Outputs(cam_dir=tmp_path, map_format=fmt).write(r)
    assert {k for k in r.files} == {"cam_path", "overlay_path"} and all(__import__("os").path.exists(v) for v in r.files.values())
