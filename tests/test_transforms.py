"""Preprocessing that travels with the weights: deterministic eval transform, letterbox geometry."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_miliary.transforms import Augment, Preprocess, eval_transform, letterbox, to_array, to_tensor, train_transform


@pytest.mark.parametrize("shape", [(300, 201), (201, 300), (513, 512), (99, 37), (64, 64)])
def test_letterbox_is_where_the_eval_transform_puts_the_image(shape):
    pre = Preprocess(image_size=64, mean=0.0, std=1.0)
    out = to_array(np.ones(shape, np.float32), eval_transform(pre), 1)[0]
    top, left, h, w = letterbox(shape, 64)
    rows, cols = np.flatnonzero(out.max(axis=1) > 0.5), np.flatnonzero(out.max(axis=0) > 0.5)
    assert (rows[0], cols[0], rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == (top, left, h, w)


def test_normalisation_channels_and_tensor():
    pre = Preprocess(image_size=32, channels=3, mean=0.5, std=0.25)
    img = np.full((40, 40), 0.75, np.float32)
    arr = to_array(img, eval_transform(pre), 3)
    assert arr.shape == (3, 32, 32) and arr.dtype == np.float32 and arr.flags.writeable
    assert np.allclose(arr, 1.0)  # (0.75 - 0.5) / 0.25
    assert to_tensor(img, eval_transform(pre), 3).shape == (3, 32, 32)
    assert Preprocess.from_dict({"image_size": 32, "channels": 3, "unknown": 1}) == Preprocess(image_size=32, channels=3)


def test_train_transform_is_seeded_and_never_flips_vertically():
    pre = Preprocess(image_size=64)
    img = np.zeros((64, 64), np.float32)
    img[:8] = 1.0  # a bright top band
    tf = train_transform(pre, Augment(p=1.0, rotate_deg=0, shift=0, scale=0))
    outs = []
    for _ in range(2):
        tf.set_random_seed(7)
        outs.append(to_array(img, tf, 1)[0])
    assert np.array_equal(outs[0], outs[1])
    assert outs[0][:8].mean() > outs[0][-8:].mean()  # the top stays at the top


@pytest.mark.parametrize("shape", [(300, 201), (201, 300), (513, 512), (99, 37), (40, 30), (1000, 1700)])
@pytest.mark.parametrize("size", [64, 512])
def test_eval_transform_equals_the_albumentations_pipeline(shape, size):
    """Inference's written-out transform gives the training pipeline's pixels, bit for bit."""
    import albumentations as A
    import cv2

    pre = Preprocess(image_size=size, mean=0.5, std=0.25)
    ref = A.Compose(
        [
            A.LongestMaxSize(max_size=size, interpolation=cv2.INTER_AREA),
            A.PadIfNeeded(min_height=size, min_width=size, border_mode=cv2.BORDER_CONSTANT, fill=0),
            A.Normalize(mean=0.5, std=0.25, max_pixel_value=1.0),
        ]
    )
    img = np.random.default_rng(size).random(shape).astype(np.float32)
    expected = np.asarray(ref(image=img)["image"]).reshape(size, size)
    np.testing.assert_array_equal(eval_transform(pre)(image=img)["image"], expected)


def test_the_region_travels_with_the_weights_and_old_records_read_the_film():
    assert Preprocess.from_dict({"image_size": 384}).region == "film"  # a card from before the lung region
    pre = Preprocess(image_size=640, region="lungs", region_margin=0.08)
    assert Preprocess.from_dict(pre.to_dict()) == pre
