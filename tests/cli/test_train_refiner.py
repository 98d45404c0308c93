"""``cxr-miliary train-refiner data|fit``: samples from phantoms, then the refiner written into the lung bundle."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cxr_miliary.cli.main import main

pytest.importorskip("segmentation_models_pytorch")


def test_data_then_fit_refine_the_lung_bundle(lung_bundle, tmp_path, capsys):
    bundle = tmp_path / "lungs"
    shutil.copytree(lung_bundle, bundle)
    data = tmp_path / "d.npz"
    assert main(["--quiet", "train-refiner", "data", "--seed", "4", "--n", "4", "--out", str(data), "--lungs", str(bundle)]) == 0
    with np.load(data, allow_pickle=False) as d:
        assert d["probs"].shape[0] == 4
    capsys.readouterr()
    assert (
        main(
            [
                "--quiet",
                "train-refiner",
                "fit",
                "--data",
                str(data),
                "--lungs",
                str(bundle),
                "--epochs",
                "1",
                "--batch-size",
                "2",
                "--accelerator",
                "cpu",
            ]
        )
        == 0
    )
    rec = json.loads(capsys.readouterr().out)
    assert rec["weights"]["file"] == "refiner.safetensors" and (bundle / "refiner.onnx").is_file()
    assert json.loads((bundle / "card.json").read_text())["refiner"] == rec


def test_bad_inputs_are_one_line_errors(lung_bundle, tmp_path, capsys):
    missing = tmp_path / "nothing.npz"
    assert main(["--quiet", "train-refiner", "fit", "--data", str(missing), "--lungs", str(lung_bundle), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "nothing.npz" in err and "Traceback" not in err
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, probs=np.zeros((2, 2, 8, 8), np.uint8))  # no images, no truth
    assert main(["--quiet", "train-refiner", "fit", "--data", str(wrong), "--lungs", str(lung_bundle), "--epochs", "1"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert (
        main(["--quiet", "train-refiner", "data", "--seed", "1", "--n", "2", "--out", str(tmp_path / "x.npz"), "--lungs", str(tmp_path / "none")])
        == 2
    )
    assert "none" in capsys.readouterr().err
