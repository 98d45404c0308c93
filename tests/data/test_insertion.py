"""On-the-fly insertion: keyed by (seed, epoch, row), negatives only, the same transforms, recorded in the card."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cxr_miliary.data import MiliaryDataModule
from cxr_miliary.data.insertion import Insertion


def test_insertion_is_keyed_by_seed_epoch_and_row(phantom_train_manifest):
    dm = MiliaryDataModule(str(phantom_train_manifest), image_size=96, num_workers=0, insertion={"fraction": 0.5, "tiers": ["florid"]})
    dm.setup()
    ds = dm._dataset("train", train=True)
    neg = [i for i, y in enumerate(ds.labels) if y == 0]
    n = len(ds)
    first = [ds[i] for i in neg]
    again = [ds[i] for i in neg]
    assert all(torch.equal(a["image"], b["image"]) and a["label"] == b["label"] for a, b in zip(first, again, strict=True))
    inserted = [s for s in first if s["inserted"]]
    assert 0 < len(inserted) < len(first) and all(s["label"] == 1 for s in inserted)
    later = [ds[n + i] for i in neg]  # epoch 1: another draw
    assert [s["inserted"] for s in later] != [s["inserted"] for s in first] or not all(
        torch.equal(a["image"], b["image"]) for a, b in zip(first, later, strict=True)
    )
    positives = [ds[i] for i, y in enumerate(ds.labels) if y == 1]
    assert not any(s["inserted"] for s in positives)  # only negatives become positives
    assert dm.pos_fraction > float(pd.read_csv(phantom_train_manifest).query("split == 'train'")["label"].mean())
    assert dm._dataset("val", train=False).insertion is None  # validation sees the films as they are


def test_an_insertion_config_is_checked():
    for bad in ({"fraction": 1.5}, {"patterns": ["cannonball"]}, {"tiers": []}):
        try:
            Insertion(**bad)
        except ValueError:
            continue
        raise AssertionError(bad)
    assert Insertion().to_dict()["fraction"] == 0.3
    assert np.isclose(Insertion(fraction=0.0).fraction, 0.0)
