"""The film the node's unit tests craft their variants from."""

from __future__ import annotations

import pytest

from cxr_miliary.phantom import generate_phantoms


@pytest.fixture(scope="session")
def film(tmp_path_factory):
    """One phantom DX film (160 px, DICOM)."""
    root = tmp_path_factory.mktemp("pacs_film")
    generate_phantoms(1, root, seed=71, size=160, formats=("dcm",))
    return next((root / "images").glob("*.dcm"))
