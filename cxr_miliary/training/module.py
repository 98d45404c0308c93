"""The LightningModule: loss, metrics and optimiser around a plain timm network."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from timm.optim import create_optimizer_v2
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryCalibrationError,
    BinarySensitivityAtSpecificity,
    BinarySpecificityAtSensitivity,
)
from torchvision.ops import sigmoid_focal_loss

from ..models import cam_target_layer, create_model


class MiliaryModule(L.LightningModule):
    """Fine-tunes any timm backbone to one logit: miliary / reticulonodular pattern or not.

    Args:
        backbone: timm model name.
        pretrained: Hub weights (online).
        pretrained_file: Local pretrained weights (offline); overrides ``pretrained``.
        init_from: Starting weights in one option: ``"hub[:tag]"``, a ``.safetensors``
            file, or ``"torchxrayvision:<weights>"`` (chest X-ray features; see
            :mod:`cxr_miliary.models.init_weights`); overrides the two above. Recorded in
            the bundle's card with its licence.
        in_chans: Input channels (must match the DataModule's ``channels``).
        drop_rate: Dropout before the classifier.
        head: ``"global"`` (timm's classifier) or ``"grid"`` (evidence pooled per cell
            of a 3 x 2 image grid; see :mod:`cxr_miliary.models.grid_head`; ``"zones"``
            is its old name and still accepted).
        loss: ``"bce"`` (BCE-with-logits) or ``"focal"``.
        pos_weight: BCE positive weight; ``None`` = (1 - p) / p from the DataModule's
            training positive fraction; a number to fix it; 1 to switch it off.
        focal_gamma: Focal loss gamma.
        focal_alpha: Focal loss alpha (-1 = no class weighting).
        lr: Peak learning rate (AdamW).
        weight_decay: AdamW weight decay.
        layer_decay: Layer-wise learning-rate decay (timm), e.g. 0.75; None = off.
        warmup_fraction: Fraction of the steps spent in linear warm-up before cosine decay.
        min_lr_ratio: Final learning rate as a fraction of ``lr``.
        freeze_backbone_epochs: Train only the classifier for the first N epochs.
        channels_last: Use the channels-last memory format (faster convnets on GPU and
            on AVX-512 CPUs).
    """

    def __init__(
        self,
        backbone: str = "efficientnet_b0",
        pretrained: bool = False,
        pretrained_file: str | None = None,
        in_chans: int = 1,
        drop_rate: float = 0.2,
        head: str = "global",
        init_from: str | None = None,
        loss: str = "bce",
        pos_weight: float | None = None,
        focal_gamma: float = 2.0,
        focal_alpha: float = -1.0,
        lr: float = 3e-4,
        weight_decay: float = 1e-4,
        layer_decay: float | None = None,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.01,
        freeze_backbone_epochs: int = 0,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        if loss not in ("bce", "focal"):
            raise ValueError("loss must be 'bce' or 'focal'")
        self.save_hyperparameters()
        self.model = create_model(
            backbone, pretrained=pretrained, pretrained_file=pretrained_file, in_chans=in_chans, drop_rate=drop_rate, head=head, init_from=init_from
        )
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.cam_layer = cam_target_layer(self.model)
        self._pos_weight: float = 1.0 if pos_weight is None else float(pos_weight)
        metrics = MetricCollection(
            {
                "auroc": BinaryAUROC(),
                "auprc": BinaryAveragePrecision(),
                "sens_at_spec90": BinarySensitivityAtSpecificity(min_specificity=0.9),
                "spec_at_sens90": BinarySpecificityAtSensitivity(min_sensitivity=0.9),
                "ece": BinaryCalibrationError(n_bins=10),
            }
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.skipped_in_epoch = 0

    # --- plumbing -------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """Take ``pos_weight`` from the data when not fixed; check the data's normalisation against the starting weights."""
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None and hasattr(dm, "preprocess") and (self.hparams.init_from or "").startswith("torchxrayvision:"):
            from ..models.init_weights import TXV_MEAN, TXV_STD

            pre = dm.preprocess
            if abs(pre.mean - TXV_MEAN) > 1e-9 or abs(pre.std - TXV_STD) > 1e-12 or pre.channels != 1:
                raise ValueError(
                    f"TorchXRayVision weights expect data.channels 1, data.mean {TXV_MEAN} and data.std {TXV_STD} "
                    "(pixels scaled to [-1024, 1024]); see configs/padchest_txv.yaml"
                )
        if self.hparams.pos_weight is None and dm is not None and hasattr(dm, "pos_fraction"):
            p = dm.pos_fraction
            self._pos_weight = (1 - p) / p if 0 < p < 1 else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (B,)."""
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x).squeeze(-1)

    def loss_fn(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """BCE-with-logits with ``pos_weight``, or focal loss."""
        logits = logits.float()
        if self.hparams.loss == "focal":
            return sigmoid_focal_loss(logits, target, alpha=self.hparams.focal_alpha, gamma=self.hparams.focal_gamma, reduction="mean")
        pw = torch.tensor(self._pos_weight, device=logits.device, dtype=logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pw)

    # --- steps ----------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        """One optimisation step; a batch whose every file failed to decode is skipped."""
        self.skipped_in_epoch += int(batch.get("n_skipped", 0))
        if "image" not in batch:
            return None
        logits = self(batch["image"])
        loss = self.loss_fn(logits, batch["label"])
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(logits))
        return loss

    def on_train_epoch_start(self) -> None:
        """Freeze/unfreeze the backbone and reset the skipped-file counter."""
        frozen = self.current_epoch < self.hparams.freeze_backbone_epochs
        head = {id(p) for p in self.model.get_classifier().parameters()}
        for p in self.model.parameters():
            p.requires_grad_(not frozen or id(p) in head)
        self.skipped_in_epoch = 0

    def on_train_epoch_end(self) -> None:
        """Log how many files could not be decoded this epoch."""
        self.log("train/skipped_files", float(self.skipped_in_epoch), sync_dist=True, reduce_fx="sum")

    def _eval_step(self, batch: dict[str, Any], metrics: MetricCollection, prefix: str) -> None:
        if "image" not in batch:
            return
        logits = self(batch["image"])
        self.log(f"{prefix}/loss", self.loss_fn(logits, batch["label"]), sync_dist=True, batch_size=len(logits))
        metrics.update(torch.sigmoid(logits.float()), batch["label"].long())

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Accumulate validation metrics."""
        self._eval_step(batch, self.val_metrics, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Accumulate test metrics."""
        self._eval_step(batch, self.test_metrics, "test")

    def _log_metrics(self, metrics: MetricCollection) -> None:
        values = {}
        for name, value in metrics.compute().items():
            v = value[0] if isinstance(value, tuple) else value  # (sensitivity, threshold)
            values[name] = v.float()
        self.log_dict(values, sync_dist=True)
        metrics.reset()

    def on_validation_epoch_end(self) -> None:
        """Log ``val/auroc`` and friends."""
        self._log_metrics(self.val_metrics)

    def on_test_epoch_end(self) -> None:
        """Log ``test/auroc`` and friends."""
        self._log_metrics(self.test_metrics)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        """Raw logits with their row indices (for calibration and distributed scoring)."""
        if "image" not in batch:
            return {"logit": torch.empty(0), "index": torch.empty(0, dtype=torch.long)}
        return {"logit": self(batch["image"]).float(), "index": batch["index"]}

    # --- optimisation ---------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW (optionally layer-wise decayed, via timm) + linear warm-up and cosine decay per step."""
        hp = self.hparams
        opt = create_optimizer_v2(self.model, opt="adamw", lr=hp.lr, weight_decay=hp.weight_decay, layer_decay=hp.layer_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warmup = int(hp.warmup_fraction * total)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            t = (step - warmup) / max(total - warmup, 1)
            return hp.min_lr_ratio + (1 - hp.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep what a bundle needs inside the checkpoint as plain data (no objects)."""
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "preprocess"):
            checkpoint["cxr_miliary"] = {"preprocess": dm.preprocess.to_dict(), "cam_target_layer": self.cam_layer}
