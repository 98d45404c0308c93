"""Integrity in predict and score: not-chest refused, polarity flagged, out-of-distribution unreliable."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from cxr_miliary import Predictor
from cxr_miliary.cli.main import main
from cxr_miliary.inference.integrity import build_reference
from cxr_miliary.io import RejectedImageError
from cxr_miliary.phantom import generate_phantoms, render_phantom


@pytest.fixture(scope="module")
def referenced(tiny_bundle, tmp_path_factory):
    """The tiny bundle with a reference fitted on phantoms."""
    root = tmp_path_factory.mktemp("ref")
    bundle = root / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    man = pd.read_csv(generate_phantoms(40, root / "ph", seed=77, size=256))
    paths = [str(root / "ph" / p) for p in man["path"]]
    record = build_reference(Predictor.load(bundle, precision="fp32"), paths[:28], paths[28:], quantile=0.95, data="test phantoms")
    assert record["n_train"] == 28 and record["n_val"] == 12 and record["limit"] > 0
    return bundle


def test_noise_is_refused_as_not_chest_unless_forced(tiny_bundle):
    p = Predictor.load(tiny_bundle)
    noise = np.random.default_rng(0).random((200, 200)).astype(np.float32)
    with pytest.raises(RejectedImageError) as exc:
        p.predict(noise)
    assert exc.value.code == "not-chest" and "not a frontal chest radiograph" in exc.value.reason
    pred = p.predict(noise, force=True)
    assert pred.integrity["frontal_chest"] is False and not pred.reliable
    assert any(w.startswith("accepted with --force despite: not-chest") for w in pred.warnings)
    assert pred.differential is None


def test_a_phantom_is_in_distribution_and_reliable(referenced):
    p = Predictor.load(referenced)
    pred = p.predict(render_phantom(78, 0, size=256, pattern="miliary").display, threshold=0.0)
    i = pred.integrity
    assert i["frontal_chest"] is True and i["ood_limit"] > 0 and i["ood_score"] >= 0
    assert i["in_distribution"] == (i["ood_score"] <= i["ood_limit"])
    if i["in_distribution"]:
        assert pred.reliable and pred.differential  # positive at threshold 0, reliable: the differential is given


def test_out_of_distribution_is_kept_but_unreliable_and_says_so(referenced, tmp_path, capsys):
    p = Predictor.load(referenced)
    p.reference.limit = 1e-9  # everything is now farther than the limit
    pred = p.predict(render_phantom(78, 1, size=256, pattern="miliary").display, threshold=0.0)
    d = pred.to_dict()
    assert d["reliable"] is False and d["integrity"]["in_distribution"] is False and 0 <= d["probability"] <= 1
    assert "differential" not in d and "recommendations" not in d  # withheld: they would read as advice
    assert any("out-of-distribution: this image is unlike the model's training data" in w for w in d["warnings"])
    assert pred.to_text().startswith("NOT RELIABLE: this image is unlike the model's training data")
    json.loads(json.dumps(d, allow_nan=False))


def test_score_columns_and_not_chest_rows(referenced, tmp_path):
    man = pd.read_csv(generate_phantoms(3, tmp_path / "set", seed=79, size=256))
    folder = tmp_path / "set" / "images"
    from PIL import Image

    Image.fromarray((np.random.default_rng(1).random((256, 256)) * 255).astype(np.uint8)).save(folder / "noise.png")

    out = tmp_path / "s.csv"
    assert main(["--quiet", "score", str(folder), "--weights", str(referenced), "--out", str(out), "--workers", "0"]) == 1
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == len(man) + 1
    noise = df[df["path"].str.endswith("noise.png")].iloc[0]
    assert noise["error"].startswith("not-chest: not a frontal chest radiograph")
    ok = df[df["error"] == ""]
    assert set(ok["frontal_chest"].astype(str)) == {"True"} and ok["ood_score"].astype(float).ge(0).all()
    assert set(ok["reliable"].astype(str)) <= {"True", "False"} and set(ok["in_distribution"].astype(str)) <= {"True", "False"}
    forced = tmp_path / "f.csv"
    assert main(["--quiet", "score", str(folder / "noise.png"), "--weights", str(referenced), "--out", str(forced), "--workers", "0", "--force"]) == 0
    row = pd.read_csv(forced).iloc[0]
    assert row["frontal_chest"] == False and row["reliable"] == False  # noqa: E712 - CSV booleans


def test_bundle_without_reference_says_the_check_was_not_run(tiny_bundle):
    pred = Predictor.load(tiny_bundle).predict(render_phantom(78, 2, size=256).display)
    assert pred.integrity["in_distribution"] is None and pred.integrity["ood_score"] is None
    assert any(r.startswith("no-reference") for r in pred.integrity["reasons"]) and pred.reliable


@pytest.fixture(scope="module")
def synthetic_bundle(tiny_bundle, tmp_path_factory):
    """The tiny bundle, its card saying it was trained on phantoms only."""
    from cxr_miliary.models import update_card

    bundle = tmp_path_factory.mktemp("synthetic") / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    update_card(bundle, training_data={"description": "phantoms", "domain": "synthetic", "sources": ["phantom"]})
    return bundle


def test_a_phantom_only_model_is_never_reliable_on_a_real_film(synthetic_bundle, phantom_dir, tmp_path, capsys):
    p = Predictor.load(synthetic_bundle)
    assert p.card.domain == "synthetic" and p.scorer.domain == "synthetic"
    phantom = str(phantom_dir / "images" / "ph0021_000001.png")
    real = tmp_path / "real.png"  # the same pixels, without the phantom's provenance: a real film as far as anyone can tell
    from PIL import Image

    from cxr_miliary.io import load_image

    Image.fromarray((load_image(phantom).pixels * 255).astype(np.uint8)).save(real)
    on_phantom = p.predict(phantom, threshold=0.0)
    on_real = p.predict(real, threshold=0.0)
    assert "synthetic-model" not in " ".join(on_phantom.integrity["reasons"])  # phantoms read as before
    assert on_real.reliable is False and on_real.integrity["reasons"][0].startswith("synthetic-model")
    assert on_real.differential is None and not on_real.recommendations  # withheld exactly as out-of-distribution does
    assert on_real.to_dict()["image"]["synthetic"] is False and on_phantom.to_dict()["image"]["synthetic"] is True
    text = on_real.to_text().splitlines()
    assert text[0].startswith("NOT RELIABLE: this model was trained only on synthetic phantoms")
    out = tmp_path / "overlay.png"
    assert main(["--quiet", "predict", str(real), "--weights", str(synthetic_bundle), "--cam", str(out), "--format", "text"]) == 0
    assert capsys.readouterr().out.startswith("NOT RELIABLE")


def test_predict_force_reaches_the_frontal_chest_check_and_marks_it(tiny_bundle, tmp_path, capsys):
    from PIL import Image

    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (240, 240), dtype=np.uint8)).save(noise)
    assert main(["--quiet", "predict", str(noise), "--weights", str(tiny_bundle)]) == 2
    assert "not a frontal chest radiograph" in capsys.readouterr().err
    assert main(["--quiet", "predict", str(noise), "--weights", str(tiny_bundle), "--force", "--no-cam"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["integrity"]["frontal_chest"] is False and d["reliable"] is False
    assert d["integrity"]["reasons"][0] == "not-chest: scored only because --force was given"
    assert any(w.startswith("accepted with --force despite: not-chest") for w in d["warnings"])


def test_a_chest_film_whose_lungs_the_model_is_unsure_of_is_scored_but_not_reliable():
    from cxr_miliary import verdicts
    from cxr_miliary.inference.chest_check import ChestVerdict
    from cxr_miliary.inference.integrity import assess, warnings_for

    note = "lungs-unsure: the lung model is sure of only 82% of the lung fields (white lungs?); the fields, zones and map may miss part of the lungs"
    sure = assess(ChestVerdict(True), None, None, synthetic_image=True)
    unsure = assess(ChestVerdict(True, reasons=[note], lungs_unsure=True), None, None, synthetic_image=True)
    assert sure.reliable and not unsure.reliable and unsure.frontal_chest
    assert note in warnings_for(unsure) and "lungs-unsure" in unsure.codes
    assert "unsure of these lung fields" in verdicts.unreliable_sentence(unsure.codes)
