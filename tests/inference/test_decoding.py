"""One decode for every door: the film, its checks, its lung fields, its network input; errors as values or raised."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_miliary.explain.region import View
from cxr_miliary.inference.decoding import decode, preview
from cxr_miliary.io import ImageError


def test_a_film_decodes_with_fields_and_a_preview_and_a_bad_file_is_a_value(phantom_dir, tmp_path):
    film = phantom_dir / "images" / "ph0021_000000.dcm"
    d = decode(film, lambda px, lungs, usable: (px[None, :8, :8], View(px, (1, 2, 3, 4), usable is False)), preview_side=64)
    assert not d.error and d.inputs.shape == (1, 8, 8) and d.lungs is not None and d.lungs.full().any()
    assert d.region == (1, 2, 3, 4) and d.region_fallback is False  # the view's box, and the check's verdict passed on
    assert max(d.preview.shape) == 64 and d.is_dicom
    assert decode(film, None).inputs is None  # insert: the checks and fields, no network input
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = decode(bad, None, index=7)
    assert out.index == 7 and out.error.split(":")[0] in ("unknown-format", "corrupt", "decode-failed", "not-an-image")
    with pytest.raises(ImageError):
        decode(bad, None, raise_errors=True)


def test_preview_never_enlarges():
    img = np.random.default_rng(0).random((100, 50)).astype(np.float32)
    assert preview(img, 200) is img or np.array_equal(preview(img, 200), img)
    assert preview(img, 40).shape == (40, 20)
