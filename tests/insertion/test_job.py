"""``insert`` as a job: one film is one patient whatever its names, outputs never eat inputs, a killed run resumes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_films import variant
from PIL import Image

from cxr_miliary.cli.main import main
from cxr_miliary.insertion import job
from cxr_miliary.insertion.job import COLUMNS, insert_files
from cxr_miliary.io import load_image
from cxr_miliary.phantom import generate_phantoms


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    root = tmp_path_factory.mktemp("ins_job")
    generate_phantoms(2, root, seed=43, size=384, formats=("dcm",), patterns=("normal",), positive_fraction=0.0)
    return sorted((root / "images").glob("*.dcm"))


def test_one_film_under_many_names_is_one_patient_in_one_split(films, tmp_path):
    """Hostile class 15: 1,000 links to one film were 1,000 patients across train, val and test."""
    links = tmp_path / "links"
    links.mkdir()
    for k in range(6):
        os.symlink(films[0], links / f"link{k}.dcm")
    shutil.copyfile(films[0], links / "copy.dcm")
    same_patient = variant(films[1], tmp_path / "same_patient.dcm", PatientID=str(__import__("pydicom").dcmread(films[0]).PatientID))
    res = insert_files([*map(str, sorted(links.iterdir())), str(same_patient)], tmp_path / "out", n_per_image=3, seed=1, tier="florid")
    man, rejected = pd.read_csv(res["manifest"]), pd.read_csv(res["rejected"])
    assert len(man) == 6 and man["source_path"].nunique() == 2  # each film inserted once, three times
    assert (rejected["error"].str.startswith("duplicate")).sum() == 6
    assert man["patient_id"].nunique() == 1 and man["split"].nunique() == 1  # one PatientID: one pseudonym, one split
    assert not man["patient_id"].str.contains(str(__import__("pydicom").dcmread(films[0]).PatientID)).any()


def test_the_seed_and_content_decide_the_draw_not_the_name(films, tmp_path):
    a = insert_files([str(films[0])], tmp_path / "a", seed=5, tier="florid")
    renamed = shutil.copyfile(films[0], tmp_path / "renamed.dcm")
    b = insert_files([str(renamed)], tmp_path / "b", seed=5, tier="florid")
    ra, rb = pd.read_csv(a["manifest"]).iloc[0], pd.read_csv(b["manifest"]).iloc[0]
    assert ra["path"].endswith(".dcm")  # --format auto keeps a DICOM input DICOM
    assert np.array_equal(load_image(tmp_path / "a" / ra["path"]).pixels, load_image(tmp_path / "b" / rb["path"]).pixels)


@pytest.mark.parametrize("where", ["same", "inside", "holds-input"])
def test_an_output_that_would_eat_its_inputs_is_refused(films, tmp_path, capsys, where):
    """Hostile class 16: --out equal to the input folder re-inserted into the first run's positives."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copyfile(films[0], src / "a.dcm")
    out = {"same": src, "inside": src / "out", "holds-input": tmp_path}[where]
    assert main(["--quiet", "insert", str(src), "--out", str(out)]) == 2
    assert "--out" in capsys.readouterr().err and not (src / "images").exists()


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--n-per-image", "1000"], ["--n-per-image", "0"]])
def test_counts_and_seeds_out_of_range_are_usage_errors(films, tmp_path, argv):
    with pytest.raises(SystemExit) as exc:
        main(["insert", str(films[0]), "--out", str(tmp_path / "o"), *argv])
    assert exc.value.code == 2


def test_a_film_too_small_for_the_nodules_is_refused_and_an_empty_manifest_has_its_header(tmp_path):
    small = tmp_path / "small.png"
    generate_phantoms(1, tmp_path / "ph", seed=44, size=64, formats=("png",), patterns=("normal",), positive_fraction=0.0)
    shutil.copyfile(next((tmp_path / "ph" / "images").glob("*.png")), small)
    res = insert_files([str(small)], tmp_path / "out")
    rejected = pd.read_csv(res["rejected"])
    assert res["written"] == 0 and rejected["error"].iloc[0].startswith("too-small")
    assert list(pd.read_csv(res["manifest"]).columns) == COLUMNS


def test_a_killed_run_resumes_without_redoing_work_or_keeping_strays(films, tmp_path, monkeypatch):
    """Hostile class 16: after a kill there were images, no manifest and .tmp files; a rerun kept stale images."""
    out = tmp_path / "out"
    first = insert_files([str(f) for f in films], out, n_per_image=2, seed=3, tier="florid")
    before = pd.read_csv(first["manifest"])
    first["manifest"].unlink()  # killed before the end: the journal has both films, the manifest is gone
    (out / "images" / ".ins_x_00.png.1.2.3.tmp").write_bytes(b"half")
    (out / "images" / "ins_stale_00.png").write_bytes(b"from another run")
    calls = []
    real = job._one
    monkeypatch.setattr(job, "_one", lambda j: calls.append(j) or real(j))
    again = insert_files([str(f) for f in films], out, n_per_image=2, seed=3, tier="florid")
    assert not calls  # nothing inserted twice
    assert pd.read_csv(again["manifest"]).equals(before)
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(os.path.basename(p) for p in before["path"])
    # other settings into the same folder: a new set, not a mixture
    other = insert_files([str(films[0])], out, n_per_image=1, seed=4, tier="florid")
    assert len(pd.read_csv(other["manifest"])) == 1 and len(list((out / "images").iterdir())) == 1


REAL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real" / "CR-MONO1-10-chest.dcm"


@pytest.mark.parametrize("fmt", ["auto", "png", "dcm"])
def test_nothing_outside_the_lungs_changes_whatever_the_input_and_output_format(films, tmp_path, fmt):
    """#35: a DICOM's display written as a 16-bit PNG came back stretched (64 % of pixels outside the lungs moved)."""
    src = tmp_path / "src"
    src.mkdir()
    dcm = shutil.copyfile(films[0], src / "film.dcm")  # MONOCHROME2, 12 bits
    display = load_image(dcm).pixels
    Image.fromarray(np.round(display * 65535).astype(np.uint16)).save(src / "deep.png")  # a 16-bit PNG
    Image.fromarray(np.round(display * 255).astype(np.uint8)).save(src / "eight.png")
    Image.fromarray(np.round(display * 255).astype(np.uint8)).save(src / "photo.jpg", quality=95)
    inputs = [str(p) for p in sorted(src.iterdir())]
    if REAL.exists():  # MONOCHROME1, 10 bits, a legacy file without the Part 10 header, windowed to 0.08-1.0
        inputs.append(str(REAL))
    res = insert_files(inputs, tmp_path / "out", fmt=fmt, tier="florid", force=True)
    man = pd.read_csv(res["manifest"])
    assert set(man["source_path"]) == set(inputs)
    for _, r in man.iterrows():
        before = load_image(r["source_path"], force=True).pixels
        after = load_image(tmp_path / "out" / r["path"], force=True).pixels
        lungs = np.asarray(Image.open(tmp_path / "out" / r["lung_mask"])) > 0
        moved = np.abs(after - before)[~lungs]
        assert moved.max() <= 1 / 255 + 1e-6, (Path(r["source_path"]).name, fmt, float(moved.max()))
        assert (np.abs(after - before)[lungs] > 0.01).any()  # and the pattern is there
