"""The training cache: names free of identifiers, sizes that never grow, values back as they went in."""

from __future__ import annotations

import numpy as np

from cxr_miliary.data.cache import cache_name, read_cached, resize_longest


def test_cache_names_and_sizes(tmp_path):
    name = cache_name("/data/padchest/Patient123/image.png")
    assert "Patient123" not in name and name.endswith(".npy") and name[:2] == name.split("/")[1][:2]
    img = np.random.default_rng(0).random((400, 200)).astype(np.float32)
    assert resize_longest(img, 100).shape == (100, 50) and resize_longest(img, 800) is img
    np.save(tmp_path / "c.npy", np.array([[0, 65535]], np.uint16))
    assert read_cached(tmp_path / "c.npy").tolist() == [[0.0, 1.0]]
