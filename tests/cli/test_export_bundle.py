"""``cxr-miliary export-bundle``: a Lightning checkpoint (weights only) -> a bundle that loads."""

from __future__ import annotations

import torch

from cxr_miliary import Predictor
from cxr_miliary.cli.main import main
from cxr_miliary.training import MiliaryModule


def test_checkpoint_to_bundle_and_refusals(tmp_path, capsys):
    torch.manual_seed(0)
    module = MiliaryModule(backbone="test_resnet", channels_last=False)
    ckpt = tmp_path / "last.ckpt"
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "cxr_miliary": {"preprocess": {"image_size": 96, "channels": 1, "mean": 0.5, "std": 0.25}},
        },
        ckpt,
    )
    assert main(["export-bundle", str(ckpt), "--out", str(tmp_path / "b"), "--name", "from-ckpt"]) == 0
    p = Predictor.load(tmp_path / "b", precision="fp32")
    assert p.card.name == "from-ckpt" and p.preprocess.image_size == 96 and p.card.threshold_rule["rule"] == "uncalibrated"
    x = torch.rand(2, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(p.logits(x), module.model.eval()(x).reshape(-1), atol=1e-5, rtol=0)
    assert main(["export-bundle", str(tmp_path / "nope.ckpt"), "--out", str(tmp_path / "c")]) == 2
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    assert main(["export-bundle", str(tmp_path / "foreign.ckpt"), "--out", str(tmp_path / "d")]) == 2
    assert "not a cxr-miliary checkpoint" in capsys.readouterr().err
