"""Every config in configs/ parses with LightningCLI into the real classes (no training)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STACKS = {
    "phantom": ["phantom.yaml"],
    "default_model": ["phantom.yaml", "default_model.yaml"],
    "default_model_finetune": ["phantom.yaml", "default_model.yaml", "default_model_finetune.yaml"],
    "default_model_grid": ["phantom.yaml", "default_model.yaml", "default_model_grid.yaml"],
    "padchest_miliary": ["padchest_miliary.yaml"],
    "padchest_cv": ["padchest_cv.yaml"],
    "nih_pretrain": ["nih_pretrain.yaml"],
    "csv_example": ["csv_example.yaml"],
    "lung_fields": ["lung_fields.yaml"],
    "lung_fields_conditions": ["lung_fields.yaml", "lung_fields_conditions.yaml"],
    "lung_fields_conditions_sizes": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_conditions_sizes.yaml"],
    "lung_fields_conditions_hard": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_conditions_hard.yaml"],
    "lung_fields_negatives": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_negatives.yaml"],
    "lung_fields_bilateral": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_bilateral.yaml"],
    "lung_fields_air": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_air.yaml"],
    "lung_fields_pleura": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_pleura.yaml"],
    "lung_fields_heart": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_heart.yaml"],
    "lung_fields_refit": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_heart.yaml", "lung_fields_refit.yaml"],
    "lung_fields_tight": ["lung_fields.yaml", "lung_fields_conditions.yaml", "lung_fields_heart.yaml", "lung_fields_tight.yaml"],
    "lung_fields_lowvol": [
        "lung_fields.yaml",
        "lung_fields_conditions.yaml",
        "lung_fields_heart.yaml",
        "lung_fields_tight.yaml",
        "lung_fields_lowvol.yaml",
    ],
    "lung_fields_real": [
        "lung_fields.yaml",
        "lung_fields_conditions.yaml",
        "lung_fields_heart.yaml",
        "lung_fields_tight.yaml",
        "lung_fields_real.yaml",
    ],
    "lung_fields_real3": [
        "lung_fields.yaml",
        "lung_fields_conditions.yaml",
        "lung_fields_heart.yaml",
        "lung_fields_tight.yaml",
        "lung_fields_real.yaml",
        "lung_fields_real3.yaml",
    ],
    "lung_fields_gpu": ["lung_fields.yaml", "lung_fields_gpu.yaml"],
    "padchest_txv": ["padchest_miliary.yaml", "padchest_txv.yaml"],
    "padchest_insert": ["padchest_miliary.yaml", "padchest_insert.yaml"],
    "default_model_mix": ["phantom.yaml", "default_model.yaml", "default_model_grid.yaml", "default_model_mix.yaml"],
    "default_model_region": ["phantom.yaml", "default_model.yaml", "default_model_grid.yaml", "default_model_region.yaml"],
}


def test_every_config_is_covered():
    assert {p.stem for p in (ROOT / "configs").glob("*.yaml")} == set(STACKS)


# Every stack through LightningCLI's --print_config in one process: a process per config spent
# ~10 s importing torch and Lightning each time (27 configs: over two minutes of the suite).
# train.py's own dispatch is run as a command below (test_the_lung_region_is_one_option_away,
# test_train_py_lungs_dispatches_to_the_lung_cli).
_PARSE_ALL = """
import contextlib, io, json, sys
from cxr_miliary.training.cli import lungs_main, main
out = {}
for name, argv in json.loads(sys.argv[1]).items():
    buf, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        try:
            (lungs_main if name.startswith("lung_fields") else main)(["fit", *argv, "--print_config"])
        except SystemExit as exc:  # --print_config exits 0; a bad option exits 2
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:
            code = 1
            err.write(repr(exc))
    out[name] = {"rc": code, "stdout": buf.getvalue(), "stderr": err.getvalue()}
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
"""


@pytest.fixture(scope="module")
def printed_configs(tmp_path_factory):
    """{stack name: {rc, stdout, stderr}} of ``fit --print_config`` for every stack, parsed in one process."""
    argv = {name: [a for f in files for a in ("--config", str(ROOT / "configs" / f))] for name, files in STACKS.items()}
    path = tmp_path_factory.mktemp("configs") / "printed.json"
    out = subprocess.run([sys.executable, "-c", _PARSE_ALL, json.dumps(argv), str(path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", sorted(STACKS))
def test_config_parses(name, printed_configs):
    out = printed_configs[name]
    assert out["rc"] == 0, out["stderr"][-3000:]
    cfg = yaml.safe_load(out["stdout"])
    if name.startswith("lung_fields"):
        assert cfg["model"]["encoder"].startswith("tu-") and cfg["data"]["image_size"] == 256
        assert "cxr_miliary.training.ExportLungBundle" in [c["class_path"] for c in cfg["trainer"]["callbacks"]]
        if name == "lung_fields_conditions":  # the fine-tune on real films' conditions, from the shipped lung model
            assert cfg["data"]["phantom_condition"] == "lung-mix" and cfg["model"]["init_from"] == "weights/lungs"
        if name == "lung_fields_conditions_sizes":  # stage 2: the 512/1,024/detector mix, nothing generated
            assert cfg["data"]["phantoms"] == 0 and cfg["data"]["manifest"].endswith("lung-conditions-mix/manifest.csv")
        if name == "lung_fields_conditions_hard":  # stage 3: stage 1/2's films and the hard sets, nothing generated
            assert cfg["data"]["phantoms"] == 0 and cfg["data"]["manifest"].endswith("lung-conditions-hard/manifest.csv")
        if name == "lung_fields_negatives":  # stage 4: stage 3's films, 512-px white-out and AP films, drawings
            assert cfg["data"]["phantoms"] == 0 and cfg["data"]["manifest"].endswith("lung-negatives/manifest.csv")
        if name == "lung_fields_bilateral":  # stage 5: stage 4's films and more with both lungs opacified
            assert cfg["data"]["phantoms"] == 0 and cfg["data"]["manifest"].endswith("lung-bilateral/manifest.csv")
            assert cfg["model"]["lr"] == 1e-4 and cfg["trainer"]["max_epochs"] == 3
        if name == "lung_fields_air":  # stage 6: both lungs opacified as rendered now, and a replay
            assert cfg["data"]["phantoms"] == 0 and cfg["data"]["manifest"].endswith("lung-air/manifest.csv")
            assert cfg["model"]["lr"] == 1e-4 and cfg["trainer"]["max_epochs"] == 4
        if name == "lung_fields_pleura":  # stage 7: every air-space disease displacing the air up to the pleura
            assert cfg["data"]["phantoms"] == 0 and cfg["data"]["manifest"].endswith("lung-pleura/manifest.csv")
            assert cfg["trainer"]["default_root_dir"] == "runs/lungs_pleura" and cfg["trainer"]["max_epochs"] == 5
        if name == "lung_fields_heart":  # stage 8: stage 7's films and enlarged hearts
            assert cfg["data"]["phantoms"] == 0 and cfg["data"]["manifest"].endswith("lung-pleura/manifest_heart.csv")
            assert cfg["trainer"]["default_root_dir"] == "runs/lungs_heart" and cfg["trainer"]["max_epochs"] == 3
        if name == "lung_fields_refit":  # stage 9: stage 8's films, longer and at a higher learning rate
            assert cfg["data"]["manifest"].endswith("lung-pleura/manifest_heart.csv") and cfg["model"]["lr"] == 4e-4
            assert cfg["trainer"]["default_root_dir"] == "runs/lungs_refit" and cfg["trainer"]["max_epochs"] == 6
        if name == "lung_fields_tight":  # stage 10: those films and films framed as real films are
            assert cfg["data"]["phantoms"] == 0 and cfg["data"]["manifest"].endswith("lung-tight/manifest.csv")
            assert cfg["trainer"]["default_root_dir"] == "runs/lungs_tight" and cfg["trainer"]["max_epochs"] == 3
        if name == "lung_fields_lowvol":  # the experiment on low lung volumes (not shipped), from the shipped model
            assert cfg["data"]["manifest"].endswith("lung-lowvol/manifest.csv") and cfg["model"]["init_from"] == "weights/lungs"
            assert cfg["trainer"]["default_root_dir"] == "runs/lungs_lowvol" and cfg["model"]["lr"] == 2e-4
        if name == "lung_fields_gpu":  # scripts/lung_gpu.sh on a lent machine, where a bad key would cost the call
            assert cfg["model"]["encoder"] == "tu-mobilenetv3_large_100" and cfg["model"]["init_from"] is None
            assert cfg["data"]["phantoms"] == 0 and cfg["trainer"]["precision"] == "bf16-mixed" and cfg["data"]["batch_size"] == 64
        if name == "lung_fields_real":  # the experiment on real outlines (not shipped), from the shipped tenth; its card says so
            assert cfg["data"]["manifest"].endswith("lung-real/manifest.csv") and cfg["model"]["init_from"] == "weights/lungs"
            assert cfg["trainer"]["default_root_dir"] == "runs/lungs_real" and cfg["trainer"]["max_epochs"] == 5
            export = next(c for c in cfg["trainer"]["callbacks"] if c["class_path"].endswith("ExportLungBundle"))
            assert "real-lungs" in export["init_args"]["description"]
        if name == "lung_fields_real3":  # stage 11, shipped: the third run on real outlines, from the second's bundle
            assert cfg["data"]["manifest"].endswith("lung-real/manifest3.csv") and cfg["model"]["init_from"].startswith("runs/lungs_real2/")
            assert cfg["trainer"]["default_root_dir"] == "runs/lungs_real3" and cfg["model"]["lr"] == 1e-4 and cfg["trainer"]["max_epochs"] == 4
            export = next(c for c in cfg["trainer"]["callbacks"] if c["class_path"].endswith("ExportLungBundle"))
            assert export["init_args"]["description"].endswith("seeds 10600, 10700) and a fresh replay of 2,000")
        return
    assert cfg["model"]["backbone"] and cfg["data"]["manifest"]
    assert cfg["data"]["region"] == ("lungs" if name == "default_model_region" else "film")  # the pilot alone reads the lung region
    assert "in_chans" not in cfg["model"] and cfg["data"]["channels"] in (1, 3)  # model.in_chans is linked from data.channels
    callbacks = [c["class_path"] for c in cfg["trainer"]["callbacks"]]
    assert "cxr_miliary.training.ExportBundle" in callbacks
    if name == "padchest_txv":
        assert cfg["model"]["init_from"].startswith("torchxrayvision:") and cfg["data"]["std"] == 1 / 2048
    if name == "default_model_grid":
        assert cfg["model"]["head"] == "grid" and cfg["data"]["image_size"] == 512
    if name == "padchest_insert":
        assert cfg["data"]["insertion"]["fraction"] == 0.05 and set(cfg["data"]["insertion"]["tiers"]) == {"subtle", "moderate", "florid"}
    if name == "default_model_mix":
        assert cfg["data"]["phantoms"]["size"] == "mix" and cfg["model"]["head"] == "grid"


def test_the_lung_region_is_one_option_away():
    args = ["--config", str(ROOT / "configs" / "padchest_miliary.yaml"), "--data.region", "lungs", "--data.region_margin", "0.08"]
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), "fit", *args, "--print_config"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    data = yaml.safe_load(out.stdout)["data"]
    assert data["region"] == "lungs" and data["region_margin"] == 0.08


def test_train_py_lungs_dispatches_to_the_lung_cli():
    args = ["--config", str(ROOT / "configs" / "lung_fields.yaml")]
    out = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "lungs", "fit", *args, "--print_config"], capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-3000:]
    cfg = yaml.safe_load(out.stdout)
    assert cfg["model"]["encoder"].startswith("tu-") and cfg["data"]["image_size"] == 256
