"""DICOM results for PACS: Secondary Capture + SR in the source study, validated by reading back."""

from __future__ import annotations

import json
import shutil
import subprocess

import pydicom

from cxr_miliary.cli.main import main


def test_predict_dicom_out(tiny_bundle, phantom_dir, tmp_path, capsys):
    src = phantom_dir / "images" / "ph0021_000000.dcm"
    out = tmp_path / "pacs"
    assert main(["predict", str(src), "--weights", str(tiny_bundle), "--dicom-out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 2 and len(printed["dicom_outputs"]) == 2
    source = pydicom.dcmread(src)
    kinds = {}
    for f in files:
        ds = pydicom.dcmread(f)
        kinds[ds.SOPClassUID] = ds
        assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.SeriesInstanceUID != source.SeriesInstanceUID
        assert ds.PatientID == source.PatientID  # these files, and only these, carry identifiers
    sc = kinds["1.2.840.10008.5.1.4.1.1.7"]
    assert sc.BurnedInAnnotation == "YES" and sc.pixel_array.shape[-1] == 3 and "NOT FOR DIAGNOSTIC USE" in sc.ImageComments
    sr = kinds["1.2.840.10008.5.1.4.1.1.88.11"]
    assert "probability" in sr.ContentSequence[0].TextValue
    # every other output stays identifier-free
    assert source.PatientID not in json.dumps({k: v for k, v in printed.items() if k != "dicom_outputs"})
    if shutil.which("dciodvfy"):
        for f in files:
            res = subprocess.run(["dciodvfy", str(f)], capture_output=True, text=True)
            errors = [line for line in (res.stdout + res.stderr).splitlines() if line.startswith("Error")]
            assert not errors, errors


def test_dicom_out_needs_dicom_input(tiny_bundle, phantom_dir, tmp_path, capsys):
    assert main(["predict", str(phantom_dir / "images" / "ph0021_000000.png"), "--weights", str(tiny_bundle), "--dicom-out", str(tmp_path)]) == 2
    assert "needs a DICOM input" in capsys.readouterr().err


def test_score_dicom_out(tiny_bundle, phantom_dir, tmp_path):
    import pandas as pd

    out = tmp_path / "s.csv"
    assert (
        main(
            [
                "--quiet",
                "score",
                str(phantom_dir / "images"),
                "--weights",
                str(tiny_bundle),
                "--out",
                str(out),
                "--dicom-out",
                str(tmp_path / "pacs"),
                "--workers",
                "0",
            ]
        )
        == 0
    )
    df = pd.read_csv(out, keep_default_na=False)
    dicom_rows = df[df["path"].str.endswith(".dcm")]
    assert (dicom_rows["dicom_outputs"].str.count(";") == 1).all()  # SC + SR each
    assert (df[df["path"].str.endswith(".png")]["dicom_outputs"] == "").all()
    assert len(list((tmp_path / "pacs").glob("*.dcm"))) == 2 * len(dicom_rows)
