"""One per-image result: ``predict`` and ``score`` agree on every field, on both runtimes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from runtimes import runtime_args

from cxr_miliary import Predictor
from cxr_miliary.cli.main import main
from cxr_miliary.inference.integrity import build_reference
from cxr_miliary.inference.result import cell_items
from cxr_miliary.io import load_image
from cxr_miliary.phantom import generate_phantoms

REAL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real" / "CR-MONO1-10-chest.dcm"


@pytest.fixture(scope="module")
def referenced_bundle(tiny_bundle, tmp_path_factory):
    """The tiny bundle with a training-distribution reference and an ONNX export (both runtimes, same answers)."""
    pytest.importorskip("onnxruntime")
    from cxr_miliary.models.onnx import export_onnx

    root = tmp_path_factory.mktemp("parity")
    bundle = root / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    manifest = generate_phantoms(24, root / "ref", seed=77, size=192)
    images = sorted(str(p) for p in (root / "ref" / "images").glob("*.png"))
    build_reference(Predictor.load(bundle, precision="fp32"), images[:14], images[14:])
    export_onnx(bundle, bundle / "model.onnx")
    assert manifest.exists()
    return bundle


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity_inputs")
    generate_phantoms(3, root, seed=31, size=256, formats=("dcm", "png"))
    files = sorted(str(p) for p in (root / "images").glob("*"))
    noise = root / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256), dtype=np.uint8)).save(noise)
    inverted = root / "inverted.png"
    px = load_image(files[1]).pixels
    Image.fromarray(((1.0 - px) * 255).astype(np.uint8)).save(inverted)
    files += [str(noise), str(inverted)]
    if REAL.exists():
        files.append(str(REAL))
    return files


def _predict(bundle: Path, image: str, runtime: list[str], force: bool, tmp: Path, capsys) -> dict:
    out = tmp / "p.json"
    code = main(["--quiet", "predict", image, "--weights", str(bundle), "--json", str(out), *runtime, *(["--force"] if force else [])])
    err = capsys.readouterr().err
    if code != 0:
        assert code == 2
        return {"error": err.strip()}
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
@pytest.mark.parametrize("force", [False, True])
def test_predict_and_score_give_one_result(referenced_bundle, inputs, tmp_path, capsys, monkeypatch, runtime, force):
    args = runtime_args(runtime, monkeypatch, tmp_path / "cache")
    table = tmp_path / "s.jsonl"
    score_args = ["--quiet", "score", *inputs, "--weights", str(referenced_bundle), "--out", str(table), "--cam", "--workers", "0", *args]
    main(score_args + (["--force"] if force else []))
    capsys.readouterr()
    rows = {r["path"]: r for r in map(json.loads, table.read_text().splitlines())}
    assert len(rows) == len(inputs)
    seen_runtimes = set()
    for image in inputs:
        pred, row = _predict(referenced_bundle, image, args, force, tmp_path, capsys), rows[image]
        if "error" in pred:  # refused or unreadable: the same reason in both
            assert row["error"] and row["error"].split(": ", 1)[1] in pred["error"], (image, row["error"], pred["error"])
            continue
        assert not row["error"], (image, row["error"])
        seen_runtimes |= {pred["model"]["runtime"], row["model_runtime"]}
        assert row["probability"] == pytest.approx(pred["probability"], abs=1e-6)
        assert row["positive"] == pred["positive"] and row["reliable"] == pred["reliable"]
        integrity = pred["integrity"]
        assert row["frontal_chest"] == integrity["frontal_chest"] and row["in_distribution"] == integrity["in_distribution"]
        assert row["ood_score"] == pytest.approx(integrity["ood_score"], abs=1e-3)
        assert cell_items(row["reasons"]) == integrity["reasons"]
        assert cell_items(row["warnings"]) == pred["warnings"]
        assert row["region"] == ",".join(map(str, pred["region"]))
        dist = pred["distribution"]
        assert row["pattern"] == dist["pattern"]
        assert [row[z] for z in dist["zones"]] == pytest.approx(list(dist["zones"].values()), abs=1e-6)
    assert seen_runtimes == {"torch-fp32" if runtime == "torch" else "onnxruntime-fp32"}
    noise = next(i for i in inputs if i.endswith("noise.png"))
    if force:  # the frontal-chest check said no, the result says so
        assert rows[noise]["frontal_chest"] is False and rows[noise]["reliable"] is False
        assert "accepted with --force despite: not-chest" in rows[noise]["warnings"]
    else:
        assert rows[noise]["error"].startswith("not-chest")
    inverted = next(i for i in inputs if i.endswith("inverted.png"))
    assert rows[inverted]["reliable"] is False and "polarity-suspect" in rows[inverted]["reasons"]
