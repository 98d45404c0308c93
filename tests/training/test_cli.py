"""The training CLI: data.channels sets model.in_chans, so the two cannot disagree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_channels_are_linked_from_the_data_to_the_model():
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "fit",
        "--config",
        str(ROOT / "configs" / "phantom.yaml"),
        "--data.channels",
        "3",
        "--print_config",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    cfg = yaml.safe_load(out.stdout)
    assert cfg["data"]["channels"] == 3 and "in_chans" not in cfg["model"]
