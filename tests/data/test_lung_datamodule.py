"""Lung-model batches: augmentation keyed by (seed, epoch, row), fresh every epoch, masks moved with the image."""

from __future__ import annotations

import torch

from cxr_miliary.data.dataset import EpochSampler
from cxr_miliary.data.lung_datamodule import LungMaskDataModule
from cxr_miliary.data.lung_masks import phantom_lung_manifest
from cxr_miliary.phantom import generate_phantoms


def test_each_epoch_draws_fresh_augmentation_and_runs_repeat(tmp_path):
    man = generate_phantoms(4, tmp_path / "ph", seed=12, size=192)
    phantom_lung_manifest(man, tmp_path / "lungs.csv", ratios=(1.0, 0.0, 0.0))
    dm = LungMaskDataModule(str(tmp_path / "lungs.csv"), image_size=96, batch_size=4, num_workers=0, phantoms=0)
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, EpochSampler)  # Lightning advances its epoch; keys carry it
    ds = loader.dataset
    n = len(ds)
    row0_epoch0, row0_epoch1, row0_again = ds[0], ds[n], ds[0]
    assert not torch.equal(row0_epoch0["image"], row0_epoch1["image"])  # the same film, augmented afresh
    assert torch.equal(row0_epoch0["image"], row0_again["image"]) and torch.equal(row0_epoch0["target"], row0_again["target"])
    keys = [list(iter(loader.sampler)) for _ in range(2)]
    assert sorted(k % n for k in keys[1]) == list(range(n)) and min(keys[1]) >= n  # epoch 1's keys
    batch = next(iter(loader))
    assert batch["image"].shape[1:] == (1, 96, 96) and set(torch.unique(batch["target"]).tolist()) <= {0, 1, 2}
    assert (batch["target"] > 0).float().mean() > 0.05  # lungs survive the augmentation


def test_pictures_with_no_lung_come_unturned_with_an_empty_target_and_no_orientation(tmp_path):
    """Negatives (drawings) teach "no lung here": every pixel background, never turned, out of the orientation loss."""
    import pandas as pd

    from cxr_miliary.data.lung_datamodule import NO_ORIENTATION, LungMaskDataset
    from cxr_miliary.data.lung_masks import negative_lung_manifest

    df = negative_lung_manifest(24, tmp_path / "neg.csv", size=128, ratios=(1.0, 0.0, 0.0), seed=5)
    assert set(df["source"]) == {"negative"} and (df["mask"] == "").all() and len(df) == 24
    rows = pd.read_csv(tmp_path / "neg.csv", dtype=str, keep_default_na=False)
    ds = LungMaskDataset(rows, 64, train=True, seed=0, orientations=True)
    samples = [ds[k] for k in range(len(ds) * 2)]  # two epochs: a film would be turned about a third of the time
    assert all(s["orientation"] == NO_ORIENTATION and int(s["target"].sum()) == 0 for s in samples)
    assert all(float(s["image"].std()) > 0.05 for s in samples)  # a picture, not a blank


def test_real_outlined_films_get_air_space_disease_drawn_in_when_asked_and_phantoms_never(tmp_path):
    """``opacify``: a real film's lungs made white in training, its target unchanged; phantom rows keep their own conditions."""
    import pandas as pd
    import pytest

    from cxr_miliary.data.lung_datamodule import LungMaskDataset

    man = generate_phantoms(2, tmp_path / "ph", seed=13, size=256)
    df = phantom_lung_manifest(man, tmp_path / "lungs.csv", ratios=(1.0, 0.0, 0.0))
    real = df.copy()
    real["source"] = "montgomery"  # the same films, read as a real set's
    plain = LungMaskDataset(real, 128, train=True, seed=1, orientations=False)
    drawn = LungMaskDataset(real, 128, train=True, seed=1, orientations=False, opacify=1.0)
    phantom = LungMaskDataset(pd.DataFrame(df), 128, train=True, seed=1, orientations=False, opacify=1.0)
    for k in range(len(real)):
        a, b, c = plain[k], drawn[k], phantom[k]
        lungs = a["target"] > 0
        assert torch.equal(a["target"], b["target"])  # the outline stays the truth
        assert float(b["image"][0][lungs].mean()) > float(a["image"][0][lungs].mean()) + 0.1  # whiter lungs (0.18-0.60 seen)
        assert torch.equal(a["image"], c["image"])  # phantoms are never drawn on
    assert torch.equal(
        LungMaskDataset(real, 128, train=False, seed=1, orientations=False, opacify=1.0)[0]["image"],
        LungMaskDataset(real, 128, train=False, seed=1, orientations=False)[0]["image"],
    )  # validation as read
    with pytest.raises(ValueError, match="chance"):
        LungMaskDataModule(str(tmp_path / "lungs.csv"), opacify=1.5)
