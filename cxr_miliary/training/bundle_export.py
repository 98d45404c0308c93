"""The bundle export: calibrate on validation and write the model bundle (also from a Lightning checkpoint).

ONNX export of a written bundle lives in :mod:`cxr_miliary.models.onnx`.
"""

from __future__ import annotations

import logging
import os
import platform
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from ..calibration import choose_threshold, fit_temperature
from ..data.labels import DEFAULT_POSITIVE_TERMS
from ..metrics import sigmoid, summary_metrics
from ..models import Card, cam_target_layer, create_model, head_name, save_bundle
from ..version import __version__

log = logging.getLogger(__name__)


@torch.no_grad()
@torch.no_grad()
def predict_outputs(model: nn.Module, loader: DataLoader, channels_last: bool = False, feature_layer: str | None = None) -> dict[str, np.ndarray]:
    """Logits, labels and (with ``feature_layer``) pooled features of every decodable sample (eval mode, fp32)."""
    from ..models.reference import pool

    was_training = model.training
    model.eval()
    out: dict[str, list] = {"logits": [], "labels": [], "features": []}
    seen: list[torch.Tensor] = []
    handle = (
        model.get_submodule(feature_layer).register_forward_hook(lambda _m, _i, o: seen.append(o.detach().float().cpu())) if feature_layer else None
    )
    try:
        for batch in loader:
            if "image" not in batch:
                continue
            x = batch["image"].to(next(model.parameters()).device)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out["logits"].append(model(x).reshape(-1).float().cpu().numpy())
            out["labels"].append(batch["label"].reshape(-1).cpu().numpy())
            if seen:
                out["features"].append(pool(seen.pop().numpy()))
    finally:
        if handle is not None:
            handle.remove()
        model.train(was_training)
    return {k: (np.concatenate(v).astype(np.float64) if v else np.zeros(0)) for k, v in out.items()}


def predict_logits(model: nn.Module, loader: DataLoader, channels_last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels for every decodable sample of ``loader`` (eval mode, fp32)."""
    o = predict_outputs(model, loader, channels_last)
    return o["logits"], o["labels"]


def add_reference(model: nn.Module, bundle: str | os.PathLike[str], dm: Any, channels_last: bool = False, max_train: int = 2000) -> dict[str, Any]:
    """Store the bundle's training-distribution reference (features of up to ``max_train`` training and all validation images)."""
    from ..models import update_card
    from ..models.reference import fit_reference, save_reference

    layer = cam_target_layer(model)
    train = predict_outputs(model, dm.eval_dataloader("train", max_train), channels_last, layer)["features"]
    val = predict_outputs(model, dm.eval_dataloader("val"), channels_last, layer)["features"]
    ref = fit_reference(train, val)
    record = save_reference(bundle, ref, layer, len(train), len(val), getattr(dm, "description", "") or os.path.basename(str(dm.manifest)))
    update_card(bundle, reference=record)
    return record


def calibrate(logits: np.ndarray, labels: np.ndarray, rule: str = "sensitivity", target: float = 0.90) -> dict[str, Any]:
    """Temperature scaling + threshold rule, with metrics before and after calibration."""
    temperature = fit_temperature(logits, labels)
    raw, cal = sigmoid(logits), sigmoid(logits / temperature)
    op = choose_threshold(cal, labels, rule, target)
    return {
        "temperature": temperature,
        "threshold": op["threshold"],
        "threshold_rule": op,
        "metrics": {
            "val_before_calibration": summary_metrics(raw, labels, 0.5),
            "val_after_calibration": summary_metrics(cal, labels, op["threshold"]),
        },
    }


def _versions() -> dict[str, str]:
    import lightning
    import timm

    return {
        "cxr_miliary": __version__,
        "torch": torch.__version__,
        "timm": timm.__version__,
        "lightning": lightning.__version__,
        "python": platform.python_version(),
    }


def write_bundle(
    model: nn.Module,
    out_dir: str | os.PathLike[str],
    *,
    backbone: str,
    preprocess: dict[str, Any],
    calibration: dict[str, Any],
    training_data: dict[str, Any],
    label_terms: tuple[str, ...] | list[str] = DEFAULT_POSITIVE_TERMS,
    name: str = "cxr-miliary",
    init: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Assemble the card and save the bundle (weights, card.json, MODEL_CARD.md); ``init`` records the starting weights, ``extra`` further card records (an ensemble's)."""
    card = Card(
        name=name,
        backbone=backbone,
        head=head_name(model),  # what load_bundle builds
        preprocess=preprocess,
        cam_target_layer=cam_target_layer(model),
        temperature=calibration["temperature"],
        threshold=calibration["threshold"],
        threshold_rule=calibration["threshold_rule"],
        label={
            "positive_terms": list(label_terms),
            "definition": "miliary / reticulonodular pattern: numerous tiny (<2 mm) uniform nodules scattered at random through both lungs",
        },
        training_data=training_data,
        metrics=calibration["metrics"],
        software=_versions(),
    )
    from ..models.head_gradient import cam_record

    card.cam = cam_record(model.eval(), card)
    if init is not None:
        card.extra["init"] = init
    card.extra.update(extra or {})
    return save_bundle(model, out_dir, card)


def export_dir(trainer: L.Trainer, out_dir: str | None, name: str) -> str:
    """Where an export callback writes (``<log dir>/<name>`` unless given); call on every rank."""
    # trainer.log_dir is a collective (a broadcast) under DDP: every rank must ask
    return out_dir or os.path.join(trainer.log_dir or trainer.default_root_dir, name)


def restore_best(trainer: L.Trainer, pl_module: L.LightningModule) -> int | None:
    """Load the best checkpoint's weights into the module (the bundle is the best epoch, not the last).

    Returns:
        The epoch those weights are from, or None when there is no best checkpoint (the
        module keeps its last weights).
    """
    ckpt = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
    if not (ckpt and os.path.isfile(ckpt)):
        return None
    state = torch.load(ckpt, map_location="cpu", weights_only=True)  # weights only: never unpickle
    pl_module.load_state_dict(state["state_dict"])
    log.info("bundle from best checkpoint %s", ckpt)
    return int(state["epoch"]) if "epoch" in state else None


def _init_record(hp: Any) -> dict[str, Any]:
    """The card's ``init``: where the starting weights came from, and their licence."""
    from ..models.init_weights import parse, record

    kind, arg = parse(hp.get("init_from"))
    if kind == "none" and hp.get("pretrained_file"):
        kind, arg = "file", str(hp["pretrained_file"])
    elif kind == "none" and hp.get("pretrained"):
        kind, arg = "hub", ""
    return record(kind, arg, hp["backbone"])


def data_summary(dm: Any) -> dict[str, Any]:
    """Training data facts for the card, from a MiliaryDataModule: counts, description, and the domain (synthetic, real, mixed) with its sources."""
    from ..data.domain import training_domain

    if not dm.splits:
        dm.setup()
    tr, va = dm.splits["train"], dm.splits["val"]
    return {
        "manifest": os.path.basename(str(dm.manifest)),
        "description": getattr(dm, "description", "") or os.path.basename(str(dm.manifest)),
        "n_train": int(len(tr)),
        "positives_train": int(tr["label"].sum()),
        "n_val": int(len(va)),
        "positives_val": int(va["label"].sum()),
        **training_domain(tr),
        **({"insertion": dm.insertion.to_dict()} if getattr(dm, "insertion", None) is not None else {}),
    }


class ExportBundle(L.Callback):
    """After ``fit``: reload the best checkpoint, calibrate on validation, write the bundle.

    Args:
        out_dir: Bundle folder (default: ``<log dir>/bundle``).
        threshold_rule: ``"sensitivity"``, ``"specificity"`` or ``"youden"``.
        target: Target for the sensitivity/specificity rules (0.90 = WHO TB screening).
        label_terms: Label definition recorded in the card.
        name: Model name in the card.
    """

    def __init__(
        self,
        out_dir: str | None = None,
        threshold_rule: str = "sensitivity",
        target: float = 0.90,
        label_terms: list[str] | None = None,
        name: str = "cxr-miliary",
    ) -> None:
        self.out_dir = out_dir
        self.threshold_rule = threshold_rule
        self.target = target
        self.label_terms = label_terms or list(DEFAULT_POSITIVE_TERMS)
        self.name = name
        self.bundle_path: Path | None = None

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Calibrate and export on the main process."""
        out = export_dir(trainer, self.out_dir, "bundle")
        if not trainer.is_global_zero:
            return
        restore_best(trainer, pl_module)
        dm = trainer.datamodule
        logits, labels = predict_logits(pl_module.model, dm.val_dataloader(), pl_module.hparams.channels_last)
        cal = calibrate(logits, labels, self.threshold_rule, self.target)
        self.bundle_path = write_bundle(
            pl_module.model,
            out,
            backbone=pl_module.hparams.backbone,
            preprocess=dm.preprocess.to_dict(),
            calibration=cal,
            training_data=data_summary(dm),
            label_terms=self.label_terms,
            name=self.name,
            init=_init_record(pl_module.hparams),
        )
        try:
            add_reference(pl_module.model, self.bundle_path, dm, pl_module.hparams.channels_last)
        except ValueError as exc:  # too few images for a reference: the bundle works without one
            log.warning("no training-distribution reference in the bundle: %s", exc)
        log.info("model bundle written to %s", self.bundle_path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a Lightning checkpoint safely: ``weights_only=True``, given explicitly.

    Only tensors and plain containers load; a checkpoint that needs arbitrary classes is
    refused instead of executed. Never ``load_from_checkpoint`` on an untrusted file.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path}: not a loadable checkpoint with weights_only=True ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from None


def bundle_from_checkpoint(
    ckpt: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    manifest: str | None = None,
    threshold_rule: str = "sensitivity",
    target: float = 0.90,
    name: str = "cxr-miliary",
) -> Path:
    """``cxr-miliary export-bundle``: checkpoint -> bundle, calibrated on ``manifest``'s val split if given."""
    from ..data import MiliaryDataModule
    from ..transforms import Preprocess

    state = load_checkpoint(ckpt)
    hp = state.get("hyper_parameters", {})
    extra = state.get("cxr_miliary", {})
    if "backbone" not in hp:
        raise ValueError(f"{ckpt}: not a cxr-miliary checkpoint (no backbone in hyper_parameters)")
    model = create_model(hp["backbone"], in_chans=int(hp.get("in_chans", 1)), head=hp.get("head", "global"))
    weights = {k[len("model.") :]: v for k, v in state["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(weights, strict=True)
    pre = Preprocess.from_dict(extra.get("preprocess", {"channels": hp.get("in_chans", 1)}))
    if manifest:
        dm = MiliaryDataModule(
            manifest,
            image_size=pre.image_size,
            channels=pre.channels,
            mean=pre.mean,
            std=pre.std,
            num_workers=0,
            region=pre.region,
            region_margin=pre.region_margin,
        )
        logits, labels = predict_logits(model, dm.val_dataloader())
        cal, summary = calibrate(logits, labels, threshold_rule, target), data_summary(dm)
    else:
        cal = {"temperature": 1.0, "threshold": 0.5, "threshold_rule": {"rule": "uncalibrated", "target": None}, "metrics": {}}
        summary = {"description": "unknown (exported without a manifest; uncalibrated)"}
    out = write_bundle(model.eval(), out_dir, backbone=hp["backbone"], preprocess=pre.to_dict(), calibration=cal, training_data=summary, name=name)
    if manifest:
        try:
            add_reference(model, out, dm)
        except ValueError as exc:
            log.warning("no training-distribution reference in the bundle: %s", exc)
    return out
