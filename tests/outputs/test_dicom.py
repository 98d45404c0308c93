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


def _dciodvfy_errors(path) -> list[str]:
    res = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    return [line for line in (res.stdout + res.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    """A good phantom film and crafted variants of it (what a hostile or unusual sender produces)."""
    from cxr_miliary.phantom import generate_phantoms

    root = tmp_path_factory.mktemp("crafted")
    generate_phantoms(1, root, seed=73, size=192, formats=("dcm",))
    return next((root / "images").glob("*.dcm"))


@pytest.mark.parametrize("name", ["Zoë^Anne", "山田^太郎", "Müller-Lüdenscheidt^Ö"])
def test_results_keep_non_ascii_names_exactly_and_declare_their_character_set(tiny_bundle, crafted, tmp_path, name):
    """Hostile class 7: the SR as the SC - ISO_IR 192 declared, the name kept (not 'Zo?'); a validator finds no error."""
    from hostile_films import variant

    src = variant(crafted, tmp_path / "src.dcm", SpecificCharacterSet="ISO_IR 192", PatientName=name)
    out = tmp_path / "pacs"
    assert main(["--quiet", "predict", str(src), "--weights", str(tiny_bundle), "--dicom-out", str(out), "--force"]) == 0
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 2
    for f in files:
        ds = pydicom.dcmread(f)
        assert ds.SpecificCharacterSet == "ISO_IR 192" and str(ds.PatientName) == name
        if shutil.which("dciodvfy"):
            assert not _dciodvfy_errors(f)


@pytest.mark.parametrize(
    "change",
    [
        {"StudyInstanceUID": "../../.."},
        {"StudyInstanceUID": "free text"},
        {"StudyInstanceUID": "1.2\x003.4"},
        {"StudyInstanceUID": "1." + "2" * 300},
        {"StudyInstanceUID": ""},
        {"SeriesInstanceUID": ["1.2.3.4", "1.2.3.5"]},
        {"SOPClassUID": "hello"},
    ],
)
def test_an_invalid_uid_is_never_written_into_a_result(crafted, tmp_path, change):
    """Hostile class 8: no SR or SC carries an invalid UID; nothing is invented (a new study UID each time) either."""
    import numpy as np
    from hostile_films import variant

    from cxr_miliary.outputs.dicom import InvalidSourceError, write_dicom_results

    src = variant(crafted, tmp_path / "src.dcm", **change)
    result = {"probability": 0.5, "positive": True, "threshold": 0.5, "model": {"name": "m", "sha256": "0" * 64}, "reliable": True}
    with pytest.raises(InvalidSourceError, match="invalid-uid"):
        write_dicom_results(src, tmp_path / "out", result, np.zeros((8, 8, 3), np.uint8))
    assert not list((tmp_path / "out").glob("*"))
    missing = variant(crafted, tmp_path / "nostudy.dcm", lambda ds: delattr(ds, "StudyInstanceUID"))
    with pytest.raises(InvalidSourceError, match="StudyInstanceUID is missing"):
        write_dicom_results(missing, tmp_path / "out", result, np.zeros((8, 8, 3), np.uint8))


def test_a_resent_image_with_other_content_gets_other_result_objects(crafted, tmp_path):
    """Hostile class 6: the same UIDs with a corrected header are new results; the same bytes are the same results."""
    import numpy as np
    from hostile_films import copy, variant

    from cxr_miliary.outputs.dicom import write_dicom_results

    result = {"probability": 0.5, "positive": True, "threshold": 0.5, "model": {"name": "m", "sha256": "0" * 64}, "reliable": True}
    rgb = np.zeros((8, 8, 3), np.uint8)
    first = {p.name for p in write_dicom_results(crafted, tmp_path / "a", result, rgb)}
    same = {p.name for p in write_dicom_results(copy(crafted, tmp_path / "copy.dcm"), tmp_path / "b", result, rgb)}
    other = {p.name for p in write_dicom_results(variant(crafted, tmp_path / "v.dcm", PatientSex="O"), tmp_path / "c", result, rgb)}
    assert first == same and not first & other


def test_score_dicom_out_gives_poison_films_error_rows_and_scores_the_rest(tiny_bundle, crafted, tmp_path):
    """Hostile class 1: the films that killed the node's scorer end a batch no more - one error row each, exit 1."""
    import pandas as pd
    from hostile_films import POISON, copy, variant

    folder = tmp_path / "in"
    copy(crafted, folder / "good0.dcm")
    variant(crafted, folder / "good1.dcm", SOPInstanceUID="1.2.826.0.1.3680043.8.498.99")
    for name in ("no-series", "sop-class-hello", "two-series", "study-path", "no-study"):
        variant(crafted, folder / f"{name}.dcm", POISON[name])
    out = tmp_path / "s.csv"
    argv = ["--quiet", "score", str(folder), "--weights", str(tiny_bundle), "--out", str(out), "--dicom-out", str(tmp_path / "pacs")]
    assert main([*argv, "--workers", "0", "--force"]) == 1
    df = pd.read_csv(out, keep_default_na=False)
    df.index = df["path"].map(lambda p: p.rsplit("/", 1)[-1])
    assert df.loc["good0.dcm", "error"] == "" and df.loc["good1.dcm", "error"] == ""
    for name in ("no-series", "two-series", "study-path", "no-study"):
        assert df.loc[f"{name}.dcm", "error"].startswith("invalid-uid"), df.loc[f"{name}.dcm", "error"]
    assert df.loc["sop-class-hello.dcm", "error"]  # refused or invalid: an error row either way
    assert len(list((tmp_path / "pacs").glob("*.dcm"))) == 4  # SC + SR of the two good films only


def test_no_uid_reaches_the_log_through_highdicom_or_pydicom(tiny_bundle, crafted, tmp_path, caplog):
    """Hostile class 14: `score --dicom-out` logged every source's SOP Instance UID through highdicom."""
    import logging

    caplog.set_level(logging.DEBUG)
    src = crafted
    argv = [
        "score",
        str(src),
        "--weights",
        str(tiny_bundle),
        "--out",
        str(tmp_path / "s.csv"),
        "--dicom-out",
        str(tmp_path / "pacs"),
        "--workers",
        "0",
    ]
    main(argv)
    logging.getLogger("pynetdicom.utils").warning("Non-conformant 'Affected SOP Instance UID' value '%s'", "1.2.3.4.5.6")
    ds = pydicom.dcmread(src, stop_before_pixels=True)
    text = caplog.text
    for uid in (ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, "1.2.3.4.5.6"):
        assert str(uid) not in text
