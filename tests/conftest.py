"""Shared fixtures. Test data is generated here, never downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep the tests single-threaded per worker: the CI machine has 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

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
