"""Patient-level cross-validation for a rare class: K folds over train + val, out-of-fold predictions, one ensemble.

With 31 positives in a validation split, the checkpoint, the calibration and the
threshold fitted on them are noise. ``cxr-miliary cv --config C --folds K --out DIR``:

1. pools the manifest's train and val rows (the test split is never touched) and deals
   them into K stratified, patient-level folds (``DIR/folds.csv``, kept across restarts);
2. trains one model per fold with the config as ``train`` would (fold k validates,
   the others train), each writing its bundle to ``DIR/fold<k>/bundle``; a fold with
   ``done.json`` is finished and is not trained again (a killed run resumes);
3. scores every pooled row with the model that did not see it: ``DIR/oof.csv`` holds each
   row once, with its fold, its logit and its calibrated probability;
4. fits the temperature and the threshold on all out-of-fold predictions at once (every
   positive counts, not a tenth of them) and writes ``DIR/ensemble``: one bundle whose
   network is the mean of the folds' logits (:class:`~cxr_miliary.models.ensemble.FoldEnsemble`),
   with its ONNX export, its training-distribution reference, and a card that lists the
   folds, their validation figures and the cost per image. ``predict``, ``score``, ``serve``
   and ``evaluate`` load it like any bundle.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..atomic import atomic_path, write_text
from ..data import MiliaryDataModule
from ..data.splits import assign_folds
from ..metrics import auroc
from ..models import load_bundle, update_card
from ..models.ensemble import FoldEnsemble
from .bundle_export import ExportBundle, add_reference, calibrate, data_summary, write_bundle
from .cli import MiliaryCLI, main
from .module import MiliaryModule

log = logging.getLogger(__name__)


def _fold_manifest(pool: pd.DataFrame, rest: pd.DataFrame, fold: int, path: Path) -> Path:
    """The manifest fold ``fold`` trains on: its own rows validate, the other folds train, the test rows stay test."""
    df = pool.assign(split=np.where(pool["fold"] == fold, "val", "train")).drop(columns=["fold"])
    with atomic_path(path) as tmp:
        pd.concat([df, rest]).to_csv(tmp, index=False)
    return path


def _latest_bundle(runs: Path) -> Path:
    found = sorted(runs.glob("lightning_logs/version_*/bundle/card.json"), key=lambda p: int(p.parent.parent.name.split("_")[1]))
    if not found:
        raise RuntimeError(f"{runs}: the fold's training wrote no bundle")
    return found[-1].parent


def _oof_logits(model: torch.nn.Module, dm: MiliaryDataModule) -> dict[int, float]:
    """Row index of the validation split -> logit, for every decodable row."""
    out: dict[int, float] = {}
    model.eval()
    with torch.no_grad():
        for batch in dm.val_dataloader():
            if "image" not in batch:
                continue
            logits = model(batch["image"]).reshape(-1).float().numpy()
            for i, z in zip(batch["index"].tolist(), logits.tolist(), strict=True):
                out[int(i)] = float(z)
    return out


def _cost(ensemble: FoldEnsemble, size: int, channels: int) -> dict[str, float]:
    """Milliseconds per image of the ensemble and of one of its members (CPU, batch of 4, median of 3)."""
    x = torch.randn(4, channels, size, size)

    def ms(net: torch.nn.Module) -> float:
        times = []
        with torch.no_grad():
            net(x)
            for _ in range(3):
                t = time.perf_counter()
                net(x)
                times.append((time.perf_counter() - t) * 1000 / len(x))
        return float(np.median(times))

    one, all_ = ms(ensemble.members[0]), ms(ensemble)
    return {"ms_per_image_cpu": round(all_, 2), "ms_per_image_one_fold": round(one, 2), "vs_one_fold": round(all_ / max(one, 1e-9), 2)}


def run_cv(args: list[str], folds: int, out: str | os.PathLike[str], *, seed: int = 0, say: Callable[[str], Any] = log.info) -> dict[str, Any]:
    """Cross-validate the training that ``args`` (LightningCLI arguments, as ``train fit`` takes them) describe.

    Args:
        args: The training's arguments (``--config C``, overrides), without the subcommand.
        folds: K.
        out: The folder (folds, fold bundles, ``oof.csv``, ``ensemble/``).
        seed: The folds' shuffle.
        say: Where progress lines go.

    Returns:
        ``{"folds", "oof", "ensemble", "oof_auroc", "trained_now"}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cli = MiliaryCLI(MiliaryModule, MiliaryDataModule, args=list(args), run=False, save_config_kwargs={"overwrite": True})
    dm: MiliaryDataModule = cli.datamodule
    export = next((cb for cb in cli.trainer.callbacks if isinstance(cb, ExportBundle)), ExportBundle())
    data_cfg = cli.config["data"].as_dict()
    df = pd.read_csv(dm.manifest, dtype={"path": str, "patient_id": str}, keep_default_na=False)
    df["label"] = df["label"].astype(int)
    pooled = df["split"].isin(["train", "val"])
    pool, rest = df[pooled].copy(), df[~pooled].copy()
    folds_file = out / "folds.csv"
    if folds_file.exists():  # a restart keeps its folds, or finished folds would have seen other rows
        kept = pd.read_csv(folds_file, dtype={"path": str})
        if sorted(kept["path"]) != sorted(pool["path"]):
            raise ValueError(f"{folds_file}: its rows are not this manifest's train and val rows; use another --out")
        pool["fold"] = pool["path"].map(dict(zip(kept["path"], kept["fold"], strict=True)))
    else:
        pool["fold"] = assign_folds(pool, folds, seed)
        with atomic_path(folds_file) as tmp:
            pool[["path", "patient_id", "label", "fold"]].to_csv(tmp, index=False)
    say(f"{len(pool)} train + val rows ({int(pool['label'].sum())} positive) in {folds} patient-level folds; {len(rest)} test rows untouched")

    trained = 0
    for k in range(folds):
        fdir = out / f"fold{k}"
        if (fdir / "done.json").exists():
            say(f"fold {k}: finished before; not trained again")
            continue
        manifest = _fold_manifest(pool, rest, k, fdir / "manifest.csv")
        say(f"fold {k}: training")
        main(
            [
                "fit",
                *args,
                "--data.manifest",
                str(manifest),
                "--data.images_root",
                str(dm.images_root),
                "--trainer.default_root_dir",
                str(fdir / "runs"),
            ]
        )
        shutil.rmtree(fdir / "bundle", ignore_errors=True)
        shutil.copytree(_latest_bundle(fdir / "runs"), fdir / "bundle")
        card = json.loads((fdir / "bundle" / "card.json").read_text())
        after = card.get("metrics", {}).get("val_after_calibration", {})
        write_text(fdir / "done.json", json.dumps({"fold": k, "val_auroc": after.get("auroc"), "n_val": int((pool["fold"] == k).sum())}) + "\n")
        trained += 1

    # every pooled row scored once, by the fold that did not train on it
    rows, members = [], []
    for k in range(folds):
        fdir = out / f"fold{k}"
        model, _ = load_bundle(fdir / "bundle")
        members.append(model)
        fold_dm = MiliaryDataModule(**{**data_cfg, "manifest": str(fdir / "manifest.csv"), "images_root": str(dm.images_root), "num_workers": 0})
        fold_dm.setup()
        val = fold_dm.splits["val"]
        for i, z in _oof_logits(model, fold_dm).items():
            r = val.iloc[i]
            rows.append({"path": r["path"], "patient_id": r["patient_id"], "label": int(r["label"]), "fold": k, "logit": z, **_method(r)})
    oof = pd.DataFrame(rows)
    cal = calibrate(oof["logit"].to_numpy(), oof["label"].to_numpy(), export.threshold_rule, export.target)
    oof["probability"] = 1 / (1 + np.exp(-oof["logit"] / cal["temperature"]))
    with atomic_path(out / "oof.csv") as tmp:
        oof.to_csv(tmp, index=False)
    oof_auroc = auroc(oof["probability"].to_numpy(), oof["label"].to_numpy())
    say(f"out-of-fold: {len(oof)} rows, AUROC {oof_auroc:.3f}; temperature {cal['temperature']:.3f}, threshold {cal['threshold']:.3f}")

    ensemble = FoldEnsemble(members).eval()
    fold_figures = [json.loads((out / f"fold{k}" / "done.json").read_text()) for k in range(folds)]
    record = {
        "members": folds,
        "folds": fold_figures,
        "oof": {"rows": len(oof), "positives": int(oof["label"].sum()), "auroc": oof_auroc},
        "cost": _cost(ensemble, dm.preprocess.image_size, dm.preprocess.channels),
        "fitted_on": "out-of-fold predictions of every train and val row (calibration and threshold)",
    }
    bundle = write_bundle(
        ensemble,
        out / "ensemble",
        backbone=cli.config["model"]["backbone"],
        preprocess=dm.preprocess.to_dict(),
        calibration=cal,
        training_data={**data_summary(dm), "cv": {"folds": folds, "seed": seed}},
        label_terms=export.label_terms,
        name=f"{export.name}-cv{folds}",
        extra={"ensemble": record},
    )
    from ..models.onnx import export_onnx

    export_onnx(bundle, bundle / "model.onnx", model=ensemble)
    add_reference(ensemble, bundle, dm)
    update_card(bundle, ensemble=record)
    say(f"ensemble of {folds} folds: {bundle} ({record['cost']['vs_one_fold']:.1f}x the cost of one fold per image)")
    return {"folds": folds, "oof": out / "oof.csv", "ensemble": bundle, "oof_auroc": oof_auroc, "trained_now": trained}


def _method(row: pd.Series) -> dict[str, str]:
    """The row's label source, when the manifest has one (PadChest's MethodLabel)."""
    return {"label_method": str(row["label_method"])} if "label_method" in row.index else {}
