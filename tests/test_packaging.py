"""Packaging: inference installs without the training stack, and never imports it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_core_dependencies_leave_training_to_the_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for name in ("lightning", "jsonargparse", "torchmetrics"):
        assert name not in core
        assert any(dep.startswith(name) for dep in project["optional-dependencies"]["train"])
    assert "cxr-miliary[train]" in project["optional-dependencies"]["dev"]


def test_predict_and_score_never_import_lightning(tiny_bundle, phantom_dir, tmp_path):
    image = phantom_dir / "images" / "ph0021_000000.dcm"
    code = (
        "import sys\n"
        "from cxr_miliary.cli.main import main\n"
        f"assert main(['--quiet', 'predict', {str(image)!r}, '--weights', {str(tiny_bundle)!r}]) == 0\n"
        f"assert main(['--quiet', 'score', {str(phantom_dir / 'images')!r}, '--weights', {str(tiny_bundle)!r}, "
        f"'--out', {str(tmp_path / 's.csv')!r}, '--cam', '--workers', '0']) == 0\n"
        f"assert main(['--quiet', 'evaluate', '--manifest', {str(phantom_dir / 'manifest.csv')!r}, '--weights', {str(tiny_bundle)!r}, "
        f"'--out', {str(tmp_path / 'ev')!r}, '--workers', '0', '--bootstrap', '20']) == 0\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'lightning', 'pytorch_lightning', 'torchmetrics', 'jsonargparse'})\n"
        "print('IMPORTED', bad) if bad else print('CLEAN')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.stdout.strip().endswith("CLEAN"), out.stdout + out.stderr[-3000:]
