"""Real data the tests measure on, from installed packages: pydicom-data's films and TorchXRayVision's lung masks.

pydicom-data (on PyPI) carries the NEMA compression test films: ``RG1_UNCR.dcm`` is a PA
chest CR (1,841 x 1,955, 15-bit, MONOCHROME1) with multiple round masses, ``RG3_UNCR.dcm`` an AP
tibia CR. They are read from the installed package, never downloaded (``download=False``).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pydicom_data_film(name: str) -> Path:
    """The path of one of pydicom-data's films; skips the test when the package is not installed."""
    from pydicom.data import get_testdata_file

    try:
        path = get_testdata_file(name, download=False)
    except (ValueError, OSError):
        path = None
    if not path:
        pytest.skip(f"{name} needs pydicom-data (pip install -e '.[dev]')")
    return Path(path)


def v7_lung_masks(step: int = 1):
    """(name, bool mask) of the real lung masks TorchXRayVision ships (V7 Labs' masks of COVID-19 films), every ``step``-th.

    Masks drawn by people on 517 real films (many AP, many with both lungs white); the films
    themselves are not shipped. Skips the test when this torchxrayvision carries none.
    """
    from cxr_miliary.phantom.real_shapes import archive_path, read_masks

    if archive_path() is None:
        pytest.skip("this torchxrayvision carries no V7 lung masks")
    yield from read_masks(step)
