"""``cxr-miliary train``: LightningCLI behind the project's command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cxr_miliary.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_train_forwards_to_lightningcli(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "fit", "--config", str(ROOT / "configs" / "phantom.yaml"), "--model.backbone", "test_resnet", "--print_config"])
    assert exc.value.code == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["backbone"] == "test_resnet" and cfg["trainer"]["max_epochs"] == 8


def test_train_bad_key_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "fit", "--config", str(ROOT / "configs" / "phantom.yaml"), "--model.no_such_key", "1"])
    assert exc.value.code != 0 and "no_such_key" in capsys.readouterr().err


def test_help_after_the_command_is_lightnings_and_names_the_command(capsys):
    # argparse gave a leading option to no one: `cxr-miliary train-lungs --help` was a usage error
    with pytest.raises(SystemExit) as exc:
        main(["train-lungs", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith("usage: cxr-miliary train-lungs") and "{fit,validate,test,predict}" in out


def test_leading_options_keep_their_place(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--config", str(ROOT / "configs" / "phantom.yaml"), "fit", "--model.backbone", "test_resnet", "--print_config"])
    assert exc.value.code == 0
    assert yaml.safe_load(capsys.readouterr().out)["model"]["backbone"] == "test_resnet"
