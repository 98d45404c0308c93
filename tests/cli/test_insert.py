"""``cxr-miliary insert``: films, masks and a manifest that train/evaluate/score take as they are; refusals are rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image

from cxr_miliary.cli.main import main
from cxr_miliary.io import load_image
from cxr_miliary.phantom import generate_phantoms

REAL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real" / "CR-MONO1-10-chest.dcm"


@pytest.fixture(scope="module")
def negatives(tmp_path_factory):
    root = tmp_path_factory.mktemp("neg")
    generate_phantoms(2, root, seed=41, size=384, formats=("dcm", "png"), patterns=("normal",), positive_fraction=0.0)
    noise = root / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (640, 640), dtype=np.uint8)).save(noise)
    return root


def test_insert_writes_films_masks_and_a_manifest_and_refuses_with_a_reason(negatives, tmp_path, tiny_bundle):
    out = tmp_path / "ins"
    inputs = [str(negatives / "images"), str(negatives / "noise.png")]
    assert main(["--quiet", "insert", *inputs, "--out", str(out), "--tier", "florid", "--n-per-image", "2", "--seed", "7"]) == 1
    man = pd.read_csv(out / "manifest.csv")
    rejected = pd.read_csv(out / "rejected.csv")
    assert len(man) == 8 and set(man["label"]) == {1} and set(man["difficulty"]) == {"florid"}
    assert list(rejected["source_path"]) == [str(negatives / "noise.png")] and rejected["error"].iloc[0].startswith("not-chest")
    assert man.groupby("source_path")["patient_id"].nunique().eq(1).all()  # one pseudonym per source film
    assert {"train", "val", "test"} >= set(man["split"])
    for _, r in man.iterrows():
        lung = np.asarray(Image.open(out / r["lung_mask"])) > 0
        src = load_image(r["source_path"]).pixels
        new = load_image(out / r["path"]).pixels
        changed = np.abs(new - src) > 1.5 / 65535
        assert changed.any() and not (changed & ~lung).any()  # every changed pixel lies inside the lung fields
    # the same seed gives the same films
    again = tmp_path / "again"
    main(
        [
            "--quiet",
            "insert",
            *inputs,
            "--out",
            str(again),
            "--tier",
            "florid",
            "--n-per-image",
            "2",
            "--seed",
            "7",
            "--sheet",
            str(tmp_path / "sheet.png"),
        ]
    )
    assert all((out / p).read_bytes() == (again / p).read_bytes() for p in man["path"])
    sheet = Image.open(tmp_path / "sheet.png")  # four films, three 256-px panels each, placed to the pixel
    assert sheet.size[0] == 3 * 256 + 4 * 8 and sheet.size[1] == 4 * (256 + 22 + 8) + 8
    # score and evaluate take the manifest as it is
    assert main(["--quiet", "score", str(out / "manifest.csv"), "--out", str(tmp_path / "s.csv"), "--weights", str(tiny_bundle)]) in (0, 1)
    assert len(pd.read_csv(tmp_path / "s.csv")) == 8


@pytest.mark.skipif(not REAL.exists(), reason="the shared real film is not beside this checkout")
def test_dicom_output_keeps_the_pixel_format_and_carries_no_identifiers(tmp_path):
    out = tmp_path / "ins"
    assert main(["--quiet", "insert", str(REAL), "--out", str(out), "--format", "dcm", "--tier", "moderate"]) == 0
    (row,) = pd.read_csv(out / "manifest.csv").to_dict("records")
    src, new = pydicom.dcmread(REAL, force=True), pydicom.dcmread(out / row["path"])
    for kw in ("PhotometricInterpretation", "BitsStored", "BitsAllocated", "PixelRepresentation", "Rows", "Columns", "Modality"):
        assert new.get(kw) == src.get(kw), kw
    for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert new.get(kw) and new.get(kw) != src.get(kw)
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "ReferringPhysicianName", "StudyDate"):
        value = str(src.get(kw, "") or "")
        assert not value or value not in str(new.get(kw, "")), kw
    assert new.PatientIdentityRemoved == "YES"
    lung = np.asarray(Image.open(out / row["lung_mask"])) > 0
    changed = np.abs(load_image(out / row["path"]).pixels - load_image(REAL).pixels) > 1e-6
    assert changed.any() and not (changed & ~lung).any()
