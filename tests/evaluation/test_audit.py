"""The shortcut audit: a marker outside the lungs is found, clean phantoms and insert output are not flagged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxr_miliary.cli.main import main
from cxr_miliary.evaluation.audit import FLAG_AUROC, outside_lungs
from cxr_miliary.insertion.job import insert_files
from cxr_miliary.phantom import generate_phantoms

pytest.importorskip("sklearn")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    man = generate_phantoms(60, root / "ph", seed=5303, size=384, formats=("png",), workers=2)
    return root, pd.read_csv(man)


def test_a_marker_on_the_positives_is_flagged_and_clean_films_are_not(films, tmp_path, capsys):
    root, df = films
    assert main(["--quiet", "audit", "--manifest", str(root / "ph" / "manifest.csv"), "--out", str(tmp_path / "clean")]) == 0
    clean = json.loads((tmp_path / "clean" / "audit.json").read_text())["questions"]["outside_lungs"]
    assert clean["auroc"] <= 0.6 or clean["ci_low"] <= 0.5
    assert "No shortcut found" in capsys.readouterr().out and (tmp_path / "clean" / "audit.png").stat().st_size > 1000
    marked = tmp_path / "marker"
    (marked / "images").mkdir(parents=True)
    for r in df.itertuples():
        a = np.asarray(Image.open(root / "ph" / r.path)).copy()
        if r.label:
            a[-40:-20, 20:40] = a.max()  # a site's marker, outside the lungs (where the phantoms never mark), on the positives only
        Image.fromarray(a).save(marked / r.path)
    df.to_csv(marked / "manifest.csv", index=False)
    assert main(["--quiet", "audit", "--manifest", str(marked / "manifest.csv"), "--out", str(tmp_path / "m")]) == 1
    flagged = json.loads((tmp_path / "m" / "audit.json").read_text())["questions"]["outside_lungs"]
    assert flagged["flagged"] and flagged["auroc"] >= 0.9 and "SHORTCUT" in capsys.readouterr().out


def test_insert_output_has_no_shortcut_outside_the_lungs(films, tmp_path):
    from cxr_miliary.evaluation.audit import audit

    root, df = films
    negs = df[df["label"] == 0]
    half = len(negs) // 2
    ins = insert_files([str(root / "ph" / p) for p in negs["path"][:half]], tmp_path / "ins", tier="moderate", seed=1)
    inserted = pd.read_csv(ins["manifest"]).assign(path=lambda d: [str(tmp_path / "ins" / p) for p in d["path"]])
    native = negs.iloc[half:].assign(path=lambda d: [str(root / "ph" / p) for p in d["path"]], inserted=False)
    pd.concat([inserted, native]).to_csv(tmp_path / "set.csv", index=False)
    res = audit(tmp_path / "set.csv", say=lambda s: None)
    assert not res["questions"]["inserted"]["flagged"] and not res["flagged"]


def test_the_lungs_are_blanked_before_anything_is_measured():
    px = np.zeros((100, 100), np.float32)
    lungs = np.zeros((100, 100), bool)
    lungs[30:70, 30:70] = True
    px[lungs] = 1.0  # whatever is in the lungs
    a = outside_lungs(px, lungs)
    px[lungs] = 0.0
    assert np.array_equal(a, outside_lungs(px, lungs)) and 0.5 < FLAG_AUROC < 1
