"""The phantom training set the data tests share (on-the-fly insertion)."""

from __future__ import annotations

import pytest

from cxr_miliary.data.datamodule import PhantomSpec, generate_phantom_manifest


@pytest.fixture(scope="session")
def phantom_train_manifest(tmp_path_factory):
    manifest = tmp_path_factory.mktemp("phantom_train_ins") / "train_manifest.csv"
    generate_phantom_manifest(str(manifest), PhantomSpec(n=24, size=160, seed=3, workers=1, ratios=(0.6, 0.2, 0.2)))
    return manifest
