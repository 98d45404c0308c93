"""One evaluation run the evaluation tests share."""

from __future__ import annotations

import pytest

from cxr_miliary.cli.main import main
from cxr_miliary.phantom import generate_phantoms


@pytest.fixture(scope="session")
def evaluated(tiny_bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("ev")
    manifest = generate_phantoms(14, root / "ph", seed=88, size=256)
    out = root / "out"
    assert (
        main(
            [
                "--quiet",
                "evaluate",
                "--weights",
                str(tiny_bundle),
                "--manifest",
                str(manifest),
                "--out",
                str(out),
                "--workers",
                "0",
                "--bootstrap",
                "100",
            ]
        )
        == 0
    )
    return out
