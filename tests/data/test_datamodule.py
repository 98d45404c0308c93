"""DataModule and cache on phantom images."""

from __future__ import annotations

import numpy as np
import torch

from cxr_miliary.data import EpochSampler, MiliaryDataModule, prepare_cache
from cxr_miliary.data.cache import read_cached
from cxr_miliary.io import load_image


def test_batches_shapes_and_skips(phantom_manifest):
    dm = MiliaryDataModule(str(phantom_manifest), image_size=64, channels=3, batch_size=4, num_workers=0, sampler="balanced")
    dm.setup()
    assert 0 < dm.pos_fraction < 1
    seen, skipped = 0, 0
    for batch in dm.train_dataloader():
        skipped += batch["n_skipped"]
        if "image" in batch:
            assert batch["image"].shape[1:] == (3, 64, 64) and batch["image"].dtype == torch.float32
            seen += len(batch["image"])
    assert seen + skipped == len(dm.splits["train"]) and seen > 0
    val = next(iter(dm.val_dataloader()))
    assert val["image"].shape[1:] == (3, 64, 64)
    assert not torch.isnan(val["image"]).any()


def test_decode_failure_in_worker_does_not_crash(phantom_manifest):
    dm = MiliaryDataModule(str(phantom_manifest), image_size=48, batch_size=16, num_workers=1)
    dm.setup()
    batches = list(dm.train_dataloader())
    assert sum(b["n_skipped"] for b in batches) == 1


def test_eval_is_deterministic(phantom_manifest):
    dm = MiliaryDataModule(str(phantom_manifest), image_size=48, batch_size=8, num_workers=0)
    a = next(iter(dm.val_dataloader()))["image"]
    b = next(iter(dm.val_dataloader()))["image"]
    assert torch.equal(a, b)


def test_negative_subsampling_changes_negatives_each_epoch():
    labels = np.array([1] * 3 + [0] * 50, dtype=np.float32)
    s = EpochSampler(labels, n_negatives=10, seed=1)
    s.set_epoch(0)
    e0 = [k % 53 for k in s]
    e1 = [k % 53 for k in s]
    assert len(e0) == 13 and {0, 1, 2} <= set(e0) and {0, 1, 2} <= set(e1)
    assert set(e0) != set(e1)
    s.set_epoch(0)
    assert [k % 53 for k in s] == e0  # same epoch, same order


def test_balanced_sampling_and_epoch_keyed_augmentation(phantom_manifest):
    labels = np.array([1] * 5 + [0] * 95)
    s = EpochSampler(labels, "balanced", seed=0)
    rows = np.array(list(s)) % 100
    assert 0.3 < (rows < 5).mean() < 0.7
    dm = MiliaryDataModule(str(phantom_manifest), image_size=48, num_workers=0)
    ds = dm._dataset("train", train=True)
    n = len(ds)
    a, b, c = ds[1]["image"], ds[1]["image"], ds[n + 1]["image"]
    assert torch.equal(a, b) and not torch.equal(a, c)  # (epoch, row) decides the augmentation


def test_cache_matches_files_and_resumes(phantom_manifest, tmp_path):
    index = prepare_cache(phantom_manifest, tmp_path / "cache", size=96, workers=2)
    assert (index["error"] != "").sum() == 1
    row = index[index["error"] == ""].iloc[0]
    cached = read_cached(tmp_path / "cache" / row["cache_path"])
    original = load_image(phantom_manifest.parent / row["path"]).pixels
    assert max(cached.shape) == 96
    assert abs(cached.mean() - original.mean()) < 0.01
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.npy")}
    prepare_cache(phantom_manifest, tmp_path / "cache", size=96, workers=1)  # resume: nothing rewritten
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.npy")}
    dm = MiliaryDataModule(str(phantom_manifest), cache_dir=str(tmp_path / "cache"), image_size=64, batch_size=32, num_workers=0)
    batch = next(iter(dm.val_dataloader()))
    assert batch["image"].shape[1:] == (1, 64, 64)


def test_every_loader_of_a_lung_region_module_reads_the_region(phantom_manifest):
    """The reference's rows too: a reference fitted on whole films called region inputs foreign (found by the pilot)."""
    dm = MiliaryDataModule(str(phantom_manifest), image_size=64, batch_size=4, num_workers=0, region="lungs")
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.eval_dataloader("train", 4), dm.predict_dataloader()):
        assert loader.dataset.region == "lungs" and loader.dataset.region_margin == dm.preprocess.region_margin
