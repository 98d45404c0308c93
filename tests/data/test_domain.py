"""A training set's domain, row by row: phantoms are synthetic, published datasets real, unless the rows say otherwise."""

from __future__ import annotations

import pandas as pd

from cxr_miliary.data.domain import training_domain
from cxr_miliary.data.manifests import padchest_manifest
from cxr_miliary.phantom import generate_phantoms


def test_phantom_manifests_are_synthetic(tmp_path):
    df = pd.read_csv(generate_phantoms(3, tmp_path, seed=1, size=96))
    assert training_domain(df) == {"domain": "synthetic", "sources": ["phantom"], "synthetic_images": 3, "real_images": 0}
    old = df.drop(columns=["source", "synthetic"])  # a phantom manifest written before the columns existed
    assert training_domain(old)["domain"] == "synthetic"


def test_published_datasets_are_real_and_rows_may_say_otherwise(padchest_csv):
    df, _ = padchest_manifest(padchest_csv)
    assert training_domain(df)["domain"] == "real" and training_domain(df)["sources"] == ["padchest"]
    mixed = df.assign(synthetic=[i % 2 == 0 for i in range(len(df))])
    assert training_domain(mixed)["domain"] == "mixed"
    table = pd.DataFrame({"path": ["a.png", "b.png"], "label": [0, 1]})  # a local table with no word about its origin
    assert training_domain(table)["domain"] == "real"
