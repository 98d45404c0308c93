"""Training the lung-field model through its LightningCLI writes a bundle the segmenter runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxr_miliary.explain.lungs import learned_lung_fields
from cxr_miliary.models.lung_segmenter import LungSegmenter
from cxr_miliary.phantom import render_phantom
from cxr_miliary.training.cli import lungs_main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_fit_exports_a_working_lung_bundle(tmp_path):
    lungs_main(
        [
            "fit",
            "--config",
            str(ROOT / "configs" / "lung_fields.yaml"),
            "--trainer.accelerator",
            "cpu",
            "--trainer.precision",
            "32-true",
            "--trainer.max_epochs",
            "2",
            "--trainer.limit_train_batches",
            "2",
            "--trainer.limit_val_batches",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path / "runs"),
            "--trainer.enable_progress_bar",
            "false",
            "--data.manifest",
            str(tmp_path / "lungs" / "manifest.csv"),
            "--data.phantoms",
            "16",
            "--data.phantom_size",
            "256",
            "--data.batch_size",
            "4",
            "--data.num_workers",
            "0",
            "--data.image_size",
            "128",
            "--data.opacify",
            "0.5",
        ]
    )
    (bundle,) = (tmp_path / "runs").rglob("lung_bundle")
    import json

    card = json.loads((bundle / "card.json").read_text())
    assert card["training_data"]["opacify"] == 0.5  # the card says how it trained
    # the card's figures are the best epoch's, whose weights the bundle holds - not the last epoch's
    import pandas as pd

    (log,) = (tmp_path / "runs").rglob("metrics.csv")
    per_epoch = pd.read_csv(log).dropna(subset=["val/iou"]).set_index("epoch")
    assert len(per_epoch) == 2
    best = per_epoch["val/iou"].idxmax()
    assert card["metrics"]["val/iou"] == pytest.approx(per_epoch.loc[best, "val/iou"])
    assert card["metrics"]["val/loss"] == pytest.approx(per_epoch.loc[best, "val/loss"])
    seg = LungSegmenter(bundle)
    fields = learned_lung_fields(render_phantom(5, 0, size=300).display, seg)
    assert fields.source == "learned" and fields.shape == (300, 300) and fields.sides is not None
    assert set(np.unique(fields.sides)) <= {0, 1, 2}


def test_negatives_count_for_the_segmentation_and_not_for_the_orientation():
    """A batch of negatives alone (orientation -1) trains the segmentation towards background and gives no orientation loss."""
    import torch

    from cxr_miliary.training.lung_module import LungFieldsModule

    torch.manual_seed(0)
    module = LungFieldsModule()
    image = torch.randn(2, 1, 64, 64)
    target = torch.zeros(2, 64, 64, dtype=torch.int64)
    negatives = {"image": image, "target": target, "orientation": torch.tensor([-1, -1])}
    loss, seg, _ = module._losses(negatives)
    assert torch.isfinite(loss) and loss > 0  # the segmentation loss of an empty target, no NaN from the ignored labels
    module.hparams.orientation_weight = 0.0
    same, _, _ = module._losses(negatives)
    assert torch.isclose(loss, same)  # nothing from the orientation head
    turned = {"image": image, "target": target, "orientation": torch.tensor([1, 1])}
    assert float(module._losses(turned)[0].detach()) == 0.0  # turned films: no segmentation loss, and the orientation weight is 0 here


def test_the_card_gets_the_best_epochs_figures_not_the_last(monkeypatch, tmp_path):
    """The bundle holds the best epoch's weights; its card once showed the last epoch's validation figures beside them."""
    from types import SimpleNamespace

    import torch

    import cxr_miliary.training.bundle_export as bundle_export
    import cxr_miliary.training.lung_module as lung_module

    export = lung_module.ExportLungBundle(out_dir=str(tmp_path))
    dm = SimpleNamespace(manifest="m.csv", splits={"train": [0, 1], "val": [0]}, image_size=256, opacify=0.0)
    trainer = SimpleNamespace(sanity_checking=True, current_epoch=0, is_global_zero=True, datamodule=dm)
    trainer.checkpoint_callback = SimpleNamespace(monitor="val/iou", best_model_score=torch.tensor(0.9))
    trainer.callback_metrics = {"val/iou": torch.tensor(0.1)}
    export.on_validation_end(trainer, None)  # the sanity check before training is no epoch
    trainer.sanity_checking = False
    for epoch, iou in enumerate([0.80, 0.90, 0.85]):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {"val/iou": torch.tensor(iou), "val/loss": torch.tensor(1 - iou), "train/loss": torch.tensor(0.3)}
        export.on_validation_end(trainer, None)
    written = {}
    monkeypatch.setattr(lung_module, "save_lung_bundle", lambda model, out, **kw: written.update(kw) or out)
    module = SimpleNamespace(model=None, hparams=SimpleNamespace(encoder="x", decoder_channels=(8,)))

    monkeypatch.setattr(bundle_export, "restore_best", lambda t, m: 1)  # the second epoch was the best
    export.on_fit_end(trainer, module)
    assert written["metrics"] == {"val/iou": pytest.approx(0.90), "val/loss": pytest.approx(0.10)}

    monkeypatch.setattr(bundle_export, "restore_best", lambda t, m: 7)  # resumed past its best epoch: only the monitored score is known
    export.on_fit_end(trainer, module)
    assert written["metrics"] == {"val/iou": pytest.approx(0.9)}
