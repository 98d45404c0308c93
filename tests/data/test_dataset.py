"""The epoch sampler: a fresh, reproducible draw per epoch; balanced when asked."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_miliary.data.dataset import EpochSampler, collate_skip


def test_each_epoch_draws_afresh_and_the_same_seed_draws_the_same():
    labels = np.array([1] * 10 + [0] * 90)
    a, b = EpochSampler(labels, "shuffle", seed=1), EpochSampler(labels, "shuffle", seed=1)
    first = list(a)
    assert first == list(b) and sorted(k % 100 for k in first) == list(range(100))
    a.set_epoch(1)
    assert list(a) != first
    seq = EpochSampler(labels, "sequential")
    assert [k % 100 for k in seq] == list(range(100))


def test_unreadable_samples_are_skipped_in_a_batch():
    import torch

    out = collate_skip([None, {"image": torch.zeros(1, 2, 2), "label": torch.tensor(1.0), "index": 4}, None])
    assert out["image"].shape[0] == 1 and out["n_skipped"] == 2 and out["index"].tolist() == [4]


def test_a_lung_region_dataset_cuts_the_box_inference_cuts(tmp_path):
    """Training reads what inference reads: the same network_view, on the film before any insertion."""
    import pandas as pd

    from cxr_miliary.data.dataset import ManifestDataset
    from cxr_miliary.explain.lungs import find_lung_fields
    from cxr_miliary.explain.region import network_view
    from cxr_miliary.io import load_image
    from cxr_miliary.phantom import generate_phantoms
    from cxr_miliary.transforms import Preprocess, eval_transform, to_array

    generate_phantoms(2, tmp_path, seed=41, size=320, formats=("png",))
    rows = pd.read_csv(tmp_path / "manifest.csv")
    pre = Preprocess(image_size=128, region="lungs")
    ds = ManifestDataset(rows, tmp_path, eval_transform(pre), region="lungs")
    film = ManifestDataset(rows, tmp_path, eval_transform(pre))
    for i in range(len(rows)):
        px = load_image(tmp_path / rows["path"][i]).pixels
        view = network_view(px, find_lung_fields(px), "lungs")
        assert not view.fallback and view.pixels.shape != px.shape
        expected = to_array(view.pixels, eval_transform(pre), 1)
        assert np.allclose(ds[i]["image"].numpy(), expected, atol=1e-6)
        assert not np.allclose(film[i]["image"].numpy(), expected, atol=1e-3)  # a film dataset reads the whole film
        assert ds[len(rows) + i]["image"].numpy() == pytest.approx(expected, abs=1e-6)  # the next epoch reuses the box
