"""The epoch sampler: a fresh, reproducible draw per epoch; balanced when asked."""

from __future__ import annotations

import numpy as np

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
