"""Real Lightning training on phantoms: CLI, bundle parity, resume, DDP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from cxr_miliary.data import MiliaryDataModule
from cxr_miliary.models import load_bundle
from cxr_miliary.training import ExportBundle, MiliaryModule, bundle_from_checkpoint, load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _dm(manifest, **kw):
    return MiliaryDataModule(str(manifest), image_size=64, batch_size=8, num_workers=0, **kw)


def _trainer(root, max_epochs, **kw):
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=max_epochs,
        default_root_dir=str(root),
        deterministic=True,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        precision="32-true",
        **kw,
    )


def test_train_py_cli_writes_checkpoint_and_bundle(phantom_train_manifest, tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "fit",
        "--config",
        str(ROOT / "configs" / "phantom.yaml"),
        "--model.backbone",
        "test_resnet",
        "--data.manifest",
        str(phantom_train_manifest),
        "--data.image_size",
        "64",
        "--data.num_workers",
        "0",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.enable_progress_bar",
        "false",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    ckpts = list(tmp_path.rglob("*.ckpt"))
    bundles = list(tmp_path.rglob("card.json"))
    assert ckpts and len(bundles) == 1
    model, card = load_bundle(bundles[0].parent)
    assert card["backbone"] == "test_resnet" and card["preprocess"]["image_size"] == 64
    assert card["threshold_rule"]["rule"] == "sensitivity" and "val_after_calibration" in card["metrics"]


def test_bundle_reproduces_module_logits_exactly(phantom_train_manifest, tmp_path):
    L.seed_everything(0)
    module = MiliaryModule(backbone="test_resnet", in_chans=1, drop_rate=0.0, channels_last=False, lr=1e-3)
    dm = _dm(phantom_train_manifest)
    export = ExportBundle(out_dir=str(tmp_path / "bundle"))
    _trainer(tmp_path, 1, limit_train_batches=2, callbacks=[export], enable_checkpointing=False).fit(module, dm)
    model, card = load_bundle(tmp_path / "bundle")
    batch = next(iter(dm.val_dataloader()))
    module.eval()
    with torch.no_grad():
        assert torch.equal(module(batch["image"]), model(batch["image"]).squeeze(-1))
    assert card["temperature"] > 0


class _KilledAfterFirstEpoch(L.Callback):
    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == 0:
            trainer.should_stop = True  # the run "dies" here, after its checkpoint


@pytest.mark.parametrize("insertion", [None, {"fraction": 0.5, "tiers": ["florid"]}])
def test_resume_gives_the_same_weights(phantom_train_manifest, tmp_path, insertion):
    def run(root, ckpt=None, interrupt=False):
        L.seed_everything(7)
        module = MiliaryModule(backbone="test_resnet", in_chans=1, drop_rate=0.0, channels_last=False, lr=1e-3)
        callbacks = [L.pytorch.callbacks.ModelCheckpoint(dirpath=str(root), save_last=True)]
        callbacks += [_KilledAfterFirstEpoch()] if interrupt else []
        trainer = _trainer(root, 3, limit_train_batches=3, limit_val_batches=1, callbacks=callbacks)
        trainer.fit(module, _dm(phantom_train_manifest, sampler="balanced", insertion=insertion), ckpt_path=ckpt)
        return module

    full = run(tmp_path / "full")
    run(tmp_path / "half", interrupt=True)
    resumed = run(tmp_path / "half", ckpt=str(tmp_path / "half" / "last.ckpt"))
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items(), strict=False):
        assert torch.equal(a, b), name


def test_loss_options_and_freeze(phantom_train_manifest, tmp_path):
    L.seed_everything(0)
    module = MiliaryModule(backbone="test_resnet", loss="focal", freeze_backbone_epochs=1, layer_decay=0.8, channels_last=True)
    name, stem = next((n, p) for n, p in module.model.named_parameters() if p.ndim == 4)  # the first conv
    head = module.model.get_classifier().weight
    stem_before, head_before = stem.detach().clone(), head.detach().clone()
    _trainer(tmp_path, 1, limit_train_batches=2, limit_val_batches=1, enable_checkpointing=False).fit(module, _dm(phantom_train_manifest))
    assert torch.equal(stem_before, stem.detach()), name  # backbone frozen in epoch 0
    assert not torch.equal(head_before, head.detach())  # the classifier still learns
    with pytest.raises(ValueError):
        MiliaryModule(backbone="test_resnet", loss="hinge")


def test_pos_weight_from_data(phantom_train_manifest, tmp_path):
    module = MiliaryModule(backbone="test_resnet")
    dm = _dm(phantom_train_manifest)
    trainer = _trainer(tmp_path, 1, limit_train_batches=1, limit_val_batches=1, enable_checkpointing=False)
    trainer.fit(module, dm)
    p = dm.pos_fraction
    assert module._pos_weight == pytest.approx((1 - p) / p)


def test_export_bundle_from_checkpoint_with_calibration(phantom_train_manifest, tmp_path):
    L.seed_everything(0)
    module = MiliaryModule(backbone="test_resnet", channels_last=False)
    cb = L.pytorch.callbacks.ModelCheckpoint(dirpath=str(tmp_path), save_last=True)
    _trainer(tmp_path, 1, limit_train_batches=2, callbacks=[cb]).fit(module, _dm(phantom_train_manifest))
    state = load_checkpoint(tmp_path / "last.ckpt")
    assert state["cxr_miliary"]["preprocess"]["image_size"] == 64
    out = bundle_from_checkpoint(tmp_path / "last.ckpt", tmp_path / "b", manifest=str(phantom_train_manifest))
    _, card = load_bundle(out)
    assert card["threshold_rule"]["rule"] == "sensitivity" and card["training_data"]["n_val"] > 0
    from cxr_miliary.cli.main import main

    assert main(["export-bundle", str(tmp_path / "last.ckpt"), "--out", str(tmp_path / "c")]) == 0
    assert main(["export-bundle", str(tmp_path / "nope.ckpt"), "--out", str(tmp_path / "d")]) == 2


@pytest.mark.slow
def test_ddp_two_cpu_processes(phantom_train_manifest, tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "fit",
        "--config",
        str(ROOT / "configs" / "phantom.yaml"),
        "--model.backbone",
        "test_resnet",
        "--data.manifest",
        str(phantom_train_manifest),
        "--data.image_size",
        "64",
        "--data.num_workers",
        "0",
        "--data.batch_size",
        "4",
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp",
        "--trainer.precision",
        "32-true",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "1",
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.enable_progress_bar",
        "false",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=400, cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "distributed_backend=gloo" in res.stderr and "All distributed processes registered" in res.stderr
    assert len(list(tmp_path.rglob("card.json"))) == 1  # exported once, by rank 0


def test_trainer_predict_writes_rows_per_rank(phantom_train_manifest, tmp_path):
    from cxr_miliary.training import ScoreWriter

    module = MiliaryModule(backbone="test_resnet", channels_last=False)
    dm = _dm(phantom_train_manifest, predict_split="test")
    trainer = _trainer(tmp_path, 1, callbacks=[ScoreWriter(str(tmp_path / "pred"))])
    trainer.predict(module, datamodule=dm, return_predictions=False)
    lines = (tmp_path / "pred" / "predictions.rank0.jsonl").read_text().splitlines()
    assert len(lines) == len(dm.splits["test"]) and all('"logit"' in line for line in lines)
