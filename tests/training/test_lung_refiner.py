"""Training the shape refiner: samples are what inference reads, Lightning fits, the bundle gets the refiner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxr_miliary.models.lung_bundle import read_lung_card
from cxr_miliary.models.lung_segmenter import LungSegmenter
from cxr_miliary.training.lung_refiner import RefinerModule, RefinerSamples, fit_refiner, load_refiner_data, lung_iou, make_refiner_data, truth_sides

pytest.importorskip("segmentation_models_pytorch")


def test_truth_sides_are_letterboxed_as_the_film_is():
    side = np.zeros((200, 100), np.int8)
    side[40:160, 10:40], side[40:160, 60:90] = 1, 2
    t = truth_sides(side, (0, 32, 64, 32), 64)  # a 200 x 100 film in a 64 square: 64 rows, 32 columns from column 32
    assert t.shape == (64, 64) and not t[:, :32].any() and not t[:, 64:].any()
    assert (t == 1).any() and (t == 2).any()
    assert np.flatnonzero((t == 1).any(0)).max() < np.flatnonzero((t == 2).any(0)).min()
    rows = np.flatnonzero((t > 0).any(1))
    assert rows[0] == pytest.approx(40 * 64 / 200, abs=1) and rows[-1] + 1 == pytest.approx(160 * 64 / 200, abs=1)


def test_the_loss_and_iou_favour_the_truth():
    t = torch.zeros(1, 32, 32, dtype=torch.long)
    t[0, 8:24, 4:14], t[0, 8:24, 18:28] = 1, 2
    right = torch.nn.functional.one_hot(t, 3).permute(0, 3, 1, 2).float() * 8
    wrong = torch.zeros_like(right)
    wrong[:, 0] = 8
    assert RefinerModule.loss(right, t) < RefinerModule.loss(wrong, t)
    assert float(lung_iou(right, t)) == 1.0 and float(lung_iou(wrong, t)) == 0.0


def test_data_then_fit_write_a_refiner_the_segmenter_runs(lung_bundle, tmp_path):
    import shutil

    bundle = tmp_path / "lungs"
    shutil.copytree(lung_bundle, bundle)
    seg = LungSegmenter(bundle)
    seen = []
    path = make_refiner_data(seg, 3, 6, tmp_path / "d.npz", lambda i, n: seen.append((i, n)))
    assert seen[-1] == (6, 6)
    with np.load(path, allow_pickle=False) as d:
        assert d["probs"].shape == (6, 2, 128, 128) and d["image"].shape == (6, 128, 128) and d["truth"].shape == (6, 128, 128)
        assert d["probs"].dtype == np.uint8 and set(np.unique(d["truth"])) <= {0, 1, 2} and (d["truth"] > 0).any()
        assert len(d["condition"]) == 6
    with pytest.raises(ValueError, match="no refiner to start from"):
        fit_refiner([path], bundle, epochs=1, accelerator="cpu", init=True)
    ds = load_refiner_data([path])
    x, t = (torch.stack(v) for v in zip(*(ds[i] for i in range(len(ds))), strict=True))
    assert t.shape == (6, 128, 128) and x.shape == (6, 4, 128, 128) and torch.allclose(x[:, :3].sum(1), torch.ones(6, 128, 128), atol=1e-5)
    rec = fit_refiner([path], bundle, epochs=1, batch_size=2, accelerator="cpu", augment=True)
    assert (
        rec["metrics"]["augment"] is True and rec["metrics"]["n_val"] == 1 and rec["metrics"]["n_train"] == 5 and 0 <= rec["metrics"]["val/iou"] <= 1
    )
    assert read_lung_card(bundle)["refiner"]["weights"]["sha256"] == rec["weights"]["sha256"]
    # --init: a fine-tune starts from the refiner just written (at a learning rate too small to move it)
    from safetensors.torch import load_file

    first = load_file(bundle / "refiner.safetensors")
    again = fit_refiner([path], bundle, epochs=1, batch_size=2, accelerator="cpu", init=True, lr=1e-12)
    assert again["metrics"]["init_sha256"] == rec["weights"]["sha256"]
    second = load_file(bundle / "refiner.safetensors")
    convs = [k for k, v in first.items() if k.endswith("weight") and v.ndim == 4]
    assert convs and all(torch.allclose(first[k], second[k], atol=1e-6) for k in convs)
    refined = LungSegmenter(bundle)
    assert refined.has_refiner
    p = np.full((3, 128, 128), 1 / 3, np.float32)
    assert refined.refine(p, p[0]).shape == (3, 128, 128)


def test_data_made_for_another_input_size_is_refused(lung_bundle, tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, probs=np.zeros((2, 2, 64, 64), np.uint8), image=np.zeros((2, 64, 64), np.uint8), truth=np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ValueError, match="64 px"):
        fit_refiner([path], lung_bundle, epochs=1, accelerator="cpu")


def test_augmented_samples_move_the_film_its_probabilities_and_truth_together():
    n, size = 4, 64
    probs = np.zeros((n, 2, size, size), np.uint8)
    probs[:, 0, 16:48, 8:28], probs[:, 1, 16:48, 36:56] = 230, 230
    truth = np.zeros((n, size, size), np.uint8)
    truth[:, 16:48, 8:28], truth[:, 16:48, 36:56] = 1, 2
    image = np.full((n, size, size), 40, np.uint8)
    image[truth > 0] = 200
    plain = RefinerSamples(probs, image, truth)
    x0, t0 = plain[0]
    assert torch.equal(t0, torch.from_numpy(truth[0]).long()) and torch.allclose(x0[:3].sum(0), torch.ones(size, size))
    moved = 0
    aug = plain.subset(np.arange(n), augment=True)
    for _ in range(6):
        for i in range(n):
            x, t = aug[i]
            assert x.shape == (4, size, size) and set(t.unique().tolist()) <= {0, 1, 2}
            assert torch.allclose(x[:3].sum(0), torch.ones(size, size), atol=1e-5)
            # the probabilities and the truth move together: where the truth is a lung, so is the likelier class
            lung = t > 0
            assert (x[1:3].sum(0)[lung] > 0.5).float().mean() > 0.9
            assert x[3][lung].mean() > x[3][~lung].mean() + 0.2  # and so does the film (bright lungs here)
            moved += int(not torch.equal(t, t0))
    assert moved > 0  # some draws turn, shift or zoom
    assert torch.equal(plain.subset(np.arange(n))[0][1], t0)  # validation samples are never augmented
    a, b = (plain.subset(np.arange(n), augment=True, seed=5) for _ in range(2))
    assert all(torch.equal(a[i][0], b[i][0]) for i in range(n))  # one seed, one run
