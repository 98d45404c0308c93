"""Shared fixtures. Test data is generated here, never downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from cxr_miliary.models import cam_target_layer, create_model, save_bundle
from cxr_miliary.phantom import generate_phantoms

# Keep the tests single-threaded per worker: the CI machine has 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The fast-path verdicts (precision="auto") are cached; keep the tests' cache out of $HOME.
os.environ.setdefault("CXR_MILIARY_CACHE", __import__("tempfile").mkdtemp(prefix="cxr-miliary-cache-"))

PYDICOM_TEST_FILES = Path(__import__("pydicom").__file__).parent / "data" / "test_files"


@pytest.fixture
def pydicom_file():
    """Path to one of the real scanner files bundled inside pydicom's wheel."""

    def get(name: str) -> Path:
        path = PYDICOM_TEST_FILES / name
        if not path.exists():
            pytest.skip(f"{name} not bundled with this pydicom")
        return path

    return get

@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("test_resnet", in_chans=1)
    card = {
        "name": "tiny-test", "backbone": "test_resnet",
        "preprocess": {"image_size": 128, "channels": 1, "mean": 0.5, "std": 0.25},
        "cam_target_layer": cam_target_layer(model), "temperature": 1.5, "threshold": 0.5,
    }
    return save_bundle(model, tmp_path_factory.mktemp("bundle") / "tiny", card)


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ph_inf")
    generate_phantoms(4, out, seed=21, size=256, formats=("dcm", "png"))
    return out
