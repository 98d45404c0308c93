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
    assert "cxr-miliary[torch,train,txv,pacs]" in project["optional-dependencies"]["dev"]
    for name, extra in (("albumentations", "train"), ("pynetdicom", "pacs")):  # extras by job
        assert name not in core
        assert any(dep.startswith(name) for dep in project["optional-dependencies"][extra])
    for name in ("torch", "timm", "grad-cam"):  # the core runs on ONNX Runtime
        assert not any(dep.startswith(name) for dep in project["dependencies"])
        assert any(dep.startswith(name) for dep in project["optional-dependencies"]["torch"])


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


BLOCK_TORCH = """
import importlib.abc, importlib.metadata, sys
BLOCKED = ("torch", "torchvision", "timm", "pytorch_grad_cam", "lightning", "sklearn", "albumentations", "pynetdicom")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (blocked: an install without torch)")
        return None
sys.meta_path.insert(0, Block())
_version = importlib.metadata.version
def version(name):
    if name in BLOCKED:
        raise importlib.metadata.PackageNotFoundError(name)
    return _version(name)
importlib.metadata.version = version
"""


def test_the_default_bundle_predicts_with_a_map_without_torch(tmp_path):
    """An install without torch: predict and score with maps on the shipped ONNX export; other CAM methods say what to install."""
    from cxr_miliary.phantom import render_phantom
    from cxr_miliary.phantom.writer import write_dicom

    img = tmp_path / "chest.dcm"
    write_dicom(img, render_phantom(515, 0, size=1024, pattern="miliary"), "P515")
    code = BLOCK_TORCH + (
        "from cxr_miliary.cli.main import main\n"
        f"print('RC', main(['--quiet', 'predict', {str(img)!r}, '--json', {str(tmp_path / 'p.json')!r}]))\n"
        f"print('RC', main(['--quiet', 'score', {str(img)!r}, '--out', {str(tmp_path / 's.csv')!r}, '--cam', '--workers', '0']))\n"
        f"print('RC', main(['--quiet', 'predict', {str(img)!r}, '--cam-method', 'gradcam++']))\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    env = {**__import__("os").environ, "CXR_MILIARY_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    codes = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("RC ")]
    assert codes == ["0", "0", "2"], out.stdout[-2000:] + out.stderr[-3000:]

    assert "TORCH False" in out.stdout
    d = __import__("json").loads((tmp_path / "p.json").read_text())
    assert d["model"]["runtime"] == "onnxruntime-fp32" and abs(d["distribution"]["left"] + d["distribution"]["right"] - 1) < 1e-3
    assert d["integrity"]["ood_score"] is not None
    assert "gradcam++ map needs the grad-cam library" in out.stderr and "cxr-miliary[torch]" in out.stderr


def test_serve_without_the_pacs_extra_says_what_to_install(tmp_path):
    code = BLOCK_TORCH + (
        f"from cxr_miliary.cli.main import main\nprint('RC', main(['serve', '--port', '11119', '--out', {str(tmp_path / 'n')!r}]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "RC 2" in out.stdout and "pip install 'cxr-miliary[pacs]'" in out.stderr, out.stdout + out.stderr[-2000:]
