"""The sizes bench: the same phantoms at each size, evaluated together, figures per size."""

from __future__ import annotations

from cxr_miliary.bench.sizes import _f, sizes_bench


def test_each_size_gets_its_group(tiny_bundle, tmp_path):
    res = sizes_bench(str(tiny_bundle), n=6, sizes=(128, 192), seed=5, workers=0, out=str(tmp_path), log=lambda *_: None)
    assert len(res["by_size"]) == 2 and all(r["images"] == 6 for r in res["by_size"].values())
    assert res["model"]["name"] == "tiny-test" and _f(None) == "n/a" and _f(0.5) == "0.500"
