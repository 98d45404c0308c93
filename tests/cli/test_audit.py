"""``cxr-miliary audit`` as a command: a usage error for a manifest it cannot audit."""

from __future__ import annotations

import pandas as pd

from cxr_miliary.cli.main import main


def test_a_manifest_without_labels_is_a_usage_error(tmp_path, capsys):
    pd.DataFrame({"path": ["a.png"]}).to_csv(tmp_path / "m.csv", index=False)
    assert main(["audit", "--manifest", str(tmp_path / "m.csv")]) == 2
    assert "'path' and 'label'" in capsys.readouterr().err
    assert main(["audit", "--manifest", str(tmp_path / "none.csv")]) == 2
