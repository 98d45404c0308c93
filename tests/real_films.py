"""Real radiographs the tests measure on: the shared PA CR and pydicom-data's (a dev dependency).

pydicom-data (on PyPI) carries the NEMA compression test films: ``RG1_UNCR.dcm`` is a PA
chest CR (1,841 x 1,955, 15-bit, MONOCHROME1) with multiple round masses, ``RG3_UNCR.dcm`` an AP
tibia CR. They are read from the installed package, never downloaded (``download=False``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "real" / "CR-MONO1-10-chest.dcm"


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
