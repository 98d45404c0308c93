"""``cxr-miliary cv``: its own options checked, the rest handed to LightningCLI; unknown options refused elsewhere."""

from __future__ import annotations

import pytest

from cxr_miliary.cli.main import main


def test_folds_are_bounded_and_other_commands_refuse_unknown_options(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cv", "--config", "c.yaml", "--folds", "1", "--out", str(tmp_path)])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["info", "x.dcm", "--trainer.max_epochs", "3"])  # only cv forwards what it does not know
    assert exc.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
