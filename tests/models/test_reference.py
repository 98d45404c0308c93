"""The training-distribution reference: fit, limit, storage covered by sha256, distances."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis

from cxr_miliary.models import BundleError, load_card, update_card
from cxr_miliary.models.reference import fit_reference, ledoit_wolf, load_reference, pool, save_reference


def _data(n, c, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((c, c)) * 0.3 + np.eye(c)
    return rng.standard_normal((n, c)) @ mix + shift


def test_limit_is_the_validation_quantile_and_shifted_data_is_far():
    train, val = _data(400, 32), _data(200, 32, seed=1)
    ref = fit_reference(train, val, quantile=0.95)
    d_val = ref.distance(val)
    assert np.mean(d_val <= ref.limit) == pytest.approx(0.95, abs=0.011)
    assert np.mean(ref.distance(_data(200, 32, seed=2)) <= ref.limit) > 0.85  # fresh in-distribution data
    assert np.mean(ref.distance(_data(200, 32, shift=3.0, seed=3)) <= ref.limit) < 0.05  # shifted data
    x = _data(1, 32, seed=4)[0]
    cov, _ = ledoit_wolf(train)
    assert ref.distance(x[None])[0] == pytest.approx(mahalanobis(x, train.mean(axis=0), np.linalg.inv(cov)), rel=1e-6)


def test_too_few_images_is_refused():
    with pytest.raises(ValueError, match="at least 10"):
        fit_reference(_data(5, 4), _data(50, 4))


def test_pool_is_the_spatial_mean():
    a = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    np.testing.assert_allclose(pool(a), a.mean(axis=(2, 3)))


def test_stored_in_the_bundle_and_checked(tiny_bundle, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    ref = fit_reference(_data(100, 8), _data(50, 8, seed=1))
    record = save_reference(bundle, ref, "layer4", 100, 50, "test data")
    card = update_card(bundle, reference=record)
    assert card.reference["sha256"] == record["sha256"] and load_card(bundle).reference["limit"] == pytest.approx(ref.limit)
    back = load_reference(bundle, record)
    np.testing.assert_allclose(back.distance(_data(3, 8, seed=5)), ref.distance(_data(3, 8, seed=5)), rtol=1e-4)
    (bundle / "reference.safetensors").write_bytes((bundle / "reference.safetensors").read_bytes() + b"x")
    with pytest.raises(BundleError, match="sha256"):
        load_reference(bundle, record)
    with pytest.raises(BundleError, match="not a file inside the bundle"):
        load_reference(bundle, {**record, "file": "../elsewhere.safetensors"})
    assert "reference" in json.loads((bundle / "card.json").read_text())


@pytest.mark.parametrize("kind", ["wrong-width", "zero-precision", "huge-limit", "nan-limit", "asymmetric", "link-outside", "too-wide"])
def test_a_reference_that_would_switch_the_check_off_or_break_it_is_refused(tiny_bundle, tmp_path, kind):
    from safetensors.numpy import save_file

    from cxr_miliary.models import sha256_file

    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    ref = fit_reference(_data(100, 8), _data(50, 8, seed=1))
    record = save_reference(bundle, ref, "layer4", 100, 50, "test data")
    f = bundle / "reference.safetensors"
    mean, precision = ref.mean.astype(np.float32), ref.precision.astype(np.float32)
    if kind == "wrong-width":
        save_file({"mean": mean[:4], "precision": precision}, str(f))
    elif kind == "zero-precision":
        save_file({"mean": mean, "precision": np.zeros_like(precision)}, str(f))
    elif kind == "asymmetric":
        save_file({"mean": mean, "precision": precision + np.triu(np.ones_like(precision), 1) * 10}, str(f))
    elif kind == "too-wide":
        save_file({"mean": np.zeros(10_000, np.float32), "precision": np.zeros((1, 1), np.float32)}, str(f))
    elif kind == "huge-limit":
        record["limit"] = 1e300
    elif kind == "nan-limit":
        record["limit"] = float("nan")
    elif kind == "link-outside":
        outside = tmp_path / "elsewhere.safetensors"
        outside.write_bytes(f.read_bytes())
        f.unlink()
        f.symlink_to(outside)
    record["sha256"] = sha256_file(f)
    with pytest.raises(BundleError):
        load_reference(bundle, record)
