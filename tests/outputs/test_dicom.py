"""DICOM results for PACS: Secondary Capture + SR in the source study, validated by reading back."""

from __future__ import annotations

import json
import shutil
import subprocess

import pydicom
import pytest

from cxr_miliary.cli.main import main


def read_report(path) -> dict:
    """A TID 1500 report read back with highdicom: the numbers a viewer would show."""
    import highdicom as hd

    sr = hd.sr.srread(path)
    report = hd.sr.MeasurementReport.from_sequence([sr])
    (group,) = report.get_image_measurement_groups()
    measurements = {m.name.meaning: m.value for m in group.get_measurements()}
    evaluations = {q.name.meaning: q.value.meaning for q in group.get_qualitative_evaluations()}
    return {
        "probability": measurements["Calibrated probability of the miliary / reticulonodular pattern"],
        "zones": [k.split(", ")[1].replace(" zone", "").replace(" ", "-") for k in measurements if k.startswith("Share of the map")],
        "call": evaluations["Pattern call at the decision threshold"],
        "reliable": evaluations["Result reliable"],
        "comments": [str(item.TextValue) for item in group[0].ContentSequence if item.ValueType == "TEXT"],
        "source_sop": group.source_images[0].referenced_sop_instance_uid
        if hasattr(group, "source_images")
        else sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID,
    }


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
    assert "1.2.840.10008.5.1.4.1.1.88.34" in kinds  # a Comprehensive 3D SR: the TID 1500 Measurement Report
    report = read_report(next(f for f in files if pydicom.dcmread(f).SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"))
    assert report["probability"] == pytest.approx(printed["probability"], abs=1e-6)
    assert report["call"] == ("Present" if printed["positive"] else "Absent")
    assert set(report["zones"]) == set(printed["distribution"]["zones"]) and report["source_sop"] == source.SOPInstanceUID
    assert report["reliable"] in ("Yes", "No") and any("NOT FOR DIAGNOSTIC USE" in t for t in report["comments"])
    # every other output stays identifier-free
    assert source.PatientID not in json.dumps({k: v for k, v in printed.items() if k != "dicom_outputs"})
    if shutil.which("dciodvfy"):
        for f in files:
            res = subprocess.run(["dciodvfy", str(f)], capture_output=True, text=True)
            errors = [line for line in (res.stdout + res.stderr).splitlines() if line.startswith("Error")]
            assert not errors, errors


def test_predict_basic_sr_is_kept_as_an_option(tiny_bundle, phantom_dir, tmp_path, capsys):
    src = phantom_dir / "images" / "ph0021_000000.dcm"
    out = tmp_path / "pacs"
    assert main(["--quiet", "predict", str(src), "--weights", str(tiny_bundle), "--dicom-out", str(out), "--sr", "basic"]) == 0
    kinds = {pydicom.dcmread(f).SOPClassUID: pydicom.dcmread(f) for f in out.glob("*.dcm")}
    assert "probability" in kinds["1.2.840.10008.5.1.4.1.1.88.11"].ContentSequence[0].TextValue
    again = sorted(p.name for p in out.glob("*.dcm"))
    main(["--quiet", "predict", str(src), "--weights", str(tiny_bundle), "--dicom-out", str(out), "--sr", "basic"])
    assert sorted(p.name for p in out.glob("*.dcm")) == again  # the same image and model give the same objects


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


def test_invalid_identifiers_are_neither_printed_nor_copied(tiny_bundle, tmp_path, capsys, caplog):
    """A non-date StudyDate and a PatientName with a control character: valid DICOM out, nothing printed."""
    import logging

    from dicom_factory import CANARY

    from cxr_miliary.phantom import render_phantom

    src = tmp_path / "odd.dcm"
    ph = render_phantom(12, 0, size=256)
    import numpy as np
    from dicom_factory import make_dicom

    make_dicom(src, ph.stored.astype(np.uint16), bits_stored=ph.bits, invalid_phi=True)
    ds = pydicom.dcmread(src)
    ds.PatientName = f"{CANARY}\x01CTRL"
    ds.save_as(src, enforce_file_format=True)
    caplog.set_level(logging.INFO)
    out = tmp_path / "pacs"
    for argv in (
        ["predict", str(src), "--dicom-out", str(out)],
        ["--quiet", "score", str(src), "--out", str(tmp_path / "s.csv"), "--dicom-out", str(out / "s"), "--workers", "0"],
    ):
        main([*argv, "--weights", str(tiny_bundle), "--force"])
        printed = capsys.readouterr()
        assert CANARY not in printed.out + printed.err + caplog.text
    files = sorted(out.rglob("*.dcm"))
    assert len(files) == 4
    for f in files:
        written = pydicom.dcmread(f)
        assert written.get("StudyDate", "") == "" and CANARY not in str(written.get("PatientName", ""))
        assert written.PatientID == ds.PatientID  # the valid identifiers are still copied for PACS
    assert "StudyDate left out" in caplog.text and "PatientName left out" in caplog.text
