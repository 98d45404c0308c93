"""A lung-region bundle: the network reads the lung box, on both runtimes, in predict and score alike; a film without one falls back and says so."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from runtimes import runtime_args

from cxr_miliary import Predictor
from cxr_miliary.cli.main import main
from cxr_miliary.explain.lungs import find_lung_fields
from cxr_miliary.explain.region import lung_box
from cxr_miliary.inference.integrity import build_reference
from cxr_miliary.inference.result import cell_items
from cxr_miliary.io import load_image
from cxr_miliary.models import BundleError, load_card
from cxr_miliary.phantom import generate_phantoms


def _with_region(src, dst, region="lungs", **extra):
    shutil.copytree(src, dst)
    card = json.loads((dst / "card.json").read_text())
    card["preprocess"].update(region=region, **extra)
    (dst / "card.json").write_text(json.dumps(card))
    return dst


@pytest.fixture(scope="module")
def region_bundle(tiny_bundle, tmp_path_factory):
    """The tiny bundle reading the lung region, with its reference (built on region inputs) and ONNX export."""
    pytest.importorskip("onnxruntime")
    from cxr_miliary.models.onnx import export_onnx

    root = tmp_path_factory.mktemp("region")
    bundle = _with_region(tiny_bundle, root / "bundle")
    generate_phantoms(20, root / "ref", seed=78, size=192)
    images = sorted(str(p) for p in (root / "ref" / "images").glob("*.png"))
    build_reference(Predictor.load(bundle, precision="fp32"), images[:10], images[10:])
    export_onnx(bundle, bundle / "model.onnx")
    return bundle


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    root = tmp_path_factory.mktemp("region_films")
    generate_phantoms(2, root, seed=32, size=320, formats=("dcm",), positive_fraction=1.0)
    noise = root / "noise.png"  # no lungs: refused, and with --force read whole
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 240), dtype=np.uint8)).save(noise)
    return [*sorted(str(p) for p in (root / "images").glob("*.dcm")), str(noise)]


def test_the_card_says_what_the_network_reads(tiny_bundle, tmp_path):
    assert load_card(tiny_bundle).region == "film"  # a card from before the lung region reads the film
    assert load_card(_with_region(tiny_bundle, tmp_path / "a")).region == "lungs"
    for bad in ({"region": "chest"}, {"region_margin": 0.9}):
        with pytest.raises(BundleError, match="preprocess.region"):
            load_card(_with_region(tiny_bundle, tmp_path / str(len(list(tmp_path.iterdir()))), **bad))


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_predict_and_score_read_the_lung_box_and_a_film_without_one_falls_back(region_bundle, films, tmp_path, capsys, monkeypatch, runtime):
    args = runtime_args(runtime, monkeypatch, tmp_path / "cache")
    table = tmp_path / "s.jsonl"
    main(["--quiet", "score", *films, "--weights", str(region_bundle), "--out", str(table), "--cam", "--workers", "0", "--force", *args])
    rows = {r["path"]: r for r in map(json.loads, table.read_text().splitlines())}
    for film in films:
        out = tmp_path / "p.json"
        assert (
            main(
                ["--quiet", "predict", film, "--weights", str(region_bundle), "--json", str(out), "--cam", str(tmp_path / "m.png"), "--force", *args]
            )
            == 0
        )
        pred, row = json.loads(out.read_text()), rows[film]
        capsys.readouterr()
        assert pred["model"]["runtime"] == row["model_runtime"] == ("torch-fp32" if runtime == "torch" else "onnxruntime-fp32")
        assert row["probability"] == pytest.approx(pred["probability"], abs=1e-6) and row["region"] == ",".join(map(str, pred["region"]))
        assert cell_items(row["reasons"]) == pred["integrity"]["reasons"]
        px = load_image(film, force=True).pixels
        if film.endswith("noise.png"):  # no fields: the whole film, said, not reliable
            assert pred["region"] == [0, 0, 240, 300] and pred["reliable"] is False
            assert any(r.startswith("lung-region-fallback") for r in pred["integrity"]["reasons"])
            assert any(w.startswith("lung-region-fallback") for w in pred["warnings"])
        else:  # the lung box, as the fields give it; no fallback
            box = lung_box(find_lung_fields(px))
            assert box is not None and pred["region"] == list(box) and pred["region"] != [0, 0, px.shape[1], px.shape[0]]
            assert not any("lung-region-fallback" in r for r in pred["integrity"]["reasons"])


def test_the_map_lies_in_the_box_the_network_read(region_bundle, films):
    p = Predictor.load(region_bundle, precision="fp32")
    pred = p.predict(films[0], cam=True)
    x0, y0, x1, y1 = pred.region
    outside = np.ones(pred.cam.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert pred.cam[~outside].max() > 0 and pred.cam[outside].max() == 0.0
    film = Predictor.load(_film_twin(region_bundle), precision="fp32").predict(films[0], cam=True)
    assert film.region == [0, 0, pred.cam.shape[1], pred.cam.shape[0]]  # a film bundle reads it all
    assert not np.allclose(film.probability, pred.probability)  # and reads something else


def _film_twin(bundle):
    twin = bundle.parent / "film_twin"
    if not twin.exists():
        _with_region(bundle, twin, region="film")
        card = json.loads((twin / "card.json").read_text())
        card.pop("onnx", None)  # torch alone
        (twin / "card.json").write_text(json.dumps(card))
        (twin / "model.onnx").unlink(missing_ok=True)
    return twin
