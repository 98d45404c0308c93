"""Map files: compact at the map's own resolution, read back at any size equal to the full-resolution map."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_miliary import Predictor
from cxr_miliary.explain import load_map, save_map
from cxr_miliary.phantom import render_phantom


def test_a_compact_map_read_back_equals_the_full_map_within_float16(tiny_bundle, tmp_path):
    p = Predictor.load(tiny_bundle)
    img = render_phantom(12, 0, size=1536, pattern="miliary", difficulty="florid").display
    result = p.result(img, threshold=0.0)
    full = result.to_prediction().cam
    compact = save_map(tmp_path / "m.npz", result.explanation)
    wide = save_map(tmp_path / "m.npy", result.explanation, "full")
    assert compact.stat().st_size < 0.1 * wide.stat().st_size  # 1,536 px: float16 at 512 px, compressed
    back = load_map(compact)
    assert back.shape == full.shape and np.abs(back - full).max() <= 2**-11 + 1e-7
    assert np.abs(load_map(wide) - full).max() <= 2**-11 + 1e-7
    assert load_map(compact, (300, 200)).shape == (300, 200)


def test_what_is_not_a_map_file_is_refused(tmp_path):
    import pickle

    bad = tmp_path / "x.npy"
    bad.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a cxr-miliary map file"):
        load_map(bad)
