"""``cxr-miliary reference``: a bundle's training-distribution reference stored beside it, then used."""

from __future__ import annotations

import shutil

from cxr_miliary.cli.main import main
from cxr_miliary.models import load_card
from cxr_miliary.phantom import generate_phantoms


def test_a_reference_is_stored_and_the_bundle_then_judges_distance(tiny_bundle, tmp_path, capsys):
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    import pandas as pd

    manifest = generate_phantoms(22, tmp_path / "ph", seed=91, size=128)
    df = pd.read_csv(manifest)
    df.assign(split=["train"] * 11 + ["val"] * 11).to_csv(manifest, index=False)  # training features; the limit from validation
    assert main(["--quiet", "reference", "--weights", str(bundle), "--manifest", str(manifest)]) == 0
    card = load_card(bundle)
    assert card.reference is not None and (bundle / card.reference["file"]).is_file()
    assert main(["--quiet", "reference", "--weights", str(tmp_path / "nothing"), "--manifest", str(manifest)]) == 2
    assert "error" in capsys.readouterr().err
