"""Lightning trains and exports a grid-head model like any other."""

from __future__ import annotations

import json

import lightning as L

from cxr_miliary.models import load_bundle
from cxr_miliary.models.grid_head import GridClassifier


def test_lightning_fit_and_export_with_grid_head(phantom_train_manifest, tmp_path):
    from cxr_miliary.data import MiliaryDataModule
    from cxr_miliary.training import ExportBundle, MiliaryModule

    L.seed_everything(0)
    module = MiliaryModule(backbone="test_resnet", head="grid", in_chans=1, drop_rate=0.0, lr=1e-3, layer_decay=0.8, freeze_backbone_epochs=1)
    dm = MiliaryDataModule(str(phantom_train_manifest), image_size=64, batch_size=8, num_workers=0)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=2,
        default_root_dir=str(tmp_path),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        callbacks=[ExportBundle(out_dir=str(tmp_path / "bundle"))],
    )
    trainer.fit(module, dm)
    card = json.loads((tmp_path / "bundle" / "card.json").read_text())
    assert card["head"] == "grid" and card["cam_target_layer"].startswith("net.")
    model, _ = load_bundle(tmp_path / "bundle")
    assert isinstance(model, GridClassifier)
