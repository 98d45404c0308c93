"""``cxr-miliary train-lungs``: everything after it goes to the lung model's LightningCLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_hands_its_arguments_to_lightning():
    cmd = [
        sys.executable,
        "-m",
        "cxr_miliary",
        "train-lungs",
        "fit",
        "--config",
        str(ROOT / "configs" / "lung_fields.yaml"),
        "--data.opacify",
        "0.3",
        "--print_config",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "args parameter" not in out.stderr  # LightningCLI reads the command's own argv, so it does not warn
    cfg = yaml.safe_load(out.stdout)
    assert cfg["model"]["encoder"].startswith("tu-") and cfg["data"]["image_size"] == 256
    assert cfg["data"]["opacify"] == 0.3  # real outlined films drawn white while training (docs/training.md)
