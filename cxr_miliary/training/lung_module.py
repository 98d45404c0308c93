"""Training the lung-field model with the project's Lightning machinery (LightningCLI, callbacks).

``cxr-miliary train-lungs fit --config configs/lung_fields.yaml`` (or ``python train.py
lungs fit ...``). The module holds loss, metrics and optimiser; the network comes from
:func:`cxr_miliary.models.lung_model.create_lung_model`; the bundle (weights, ONNX export,
card) is written at the end of ``fit`` by :class:`ExportLungBundle`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassJaccardIndex

from ..data.lung_datamodule import NO_ORIENTATION
from ..models.lung_bundle import save_lung_bundle
from ..models.lung_model import CLASSES, DEFAULT_DECODER, DEFAULT_ENCODER, create_lung_model, split_outputs

log = logging.getLogger(__name__)


def _segmented(orientation: torch.Tensor) -> torch.Tensor:
    """Which films count for the segmentation: upright films and negatives (no lung, no way up), not turned ones."""
    return (orientation == 0) | (orientation == NO_ORIENTATION)


class LungFieldsModule(L.LightningModule):
    """Cross-entropy + soft Dice on three classes (background, image-left lung, image-right lung), plus the orientation head's cross-entropy.

    The segmentation loss counts upright films only (the data module turns some films;
    their fields' sides would be ambiguous) and negatives (pictures with no lung, an empty
    target); the orientation loss counts every film but not the negatives (``NO_ORIENTATION``).

    Args:
        encoder: smp encoder name (``tu-<timm name>`` for timm encoders).
        decoder_channels: U-Net decoder widths (five stages).
        pretrained: ImageNet weights for the encoder (needs internet).
        lr: AdamW learning rate (cosine decay per step).
        weight_decay: AdamW weight decay.
        orientation: Train the orientation head (:data:`~cxr_miliary.models.lung_model.ORIENTATIONS`).
        orientation_weight: Its loss's weight.
        init_from: A lung bundle folder (or its ``.safetensors``) to start from; layers it
            lacks (an older bundle without the orientation head) start fresh.
    """

    def __init__(
        self,
        encoder: str = DEFAULT_ENCODER,
        decoder_channels: tuple[int, ...] = DEFAULT_DECODER,
        pretrained: bool = False,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        orientation: bool = True,
        orientation_weight: float = 0.5,
        init_from: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = create_lung_model(encoder, tuple(decoder_channels), pretrained, orientation=orientation)
        if init_from:
            self._init_from(init_from)
        self.val_iou = MulticlassJaccardIndex(num_classes=len(CLASSES), average=None)
        self._orient_right = self._orient_total = 0

    def _init_from(self, source: str) -> None:
        from pathlib import Path

        from safetensors.torch import load_file

        from ..models.lung_bundle import read_lung_card

        path = Path(source)
        if path.is_dir():
            card = read_lung_card(path)
            path = path / card["weights"]["file"]
        state = load_file(str(path))
        own = self.model.state_dict()
        usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        self.model.load_state_dict(usable, strict=False)
        log.info("lung model initialised from %s (%d of %d tensors; new: %s)", source, len(usable), len(own), sorted(set(own) - set(usable))[:6])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) segmentation logits."""
        return split_outputs(self.model(x))[0]

    def _losses(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(total loss, segmentation logits, orientation logits or None)."""
        seg, orient = split_outputs(self.model(batch["image"]))
        upright = batch.get("orientation")
        keep = torch.ones(len(seg), dtype=torch.bool, device=seg.device) if upright is None else _segmented(upright)
        loss = self._loss(seg[keep], batch["target"][keep]) if keep.any() else seg.sum() * 0.0
        if orient is not None and upright is not None and (upright != NO_ORIENTATION).any():
            loss = loss + self.hparams.orientation_weight * F.cross_entropy(orient.float(), upright, ignore_index=NO_ORIENTATION)
        return loss, seg, orient

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits.float(), target)
        prob = logits.float().softmax(1)
        onehot = F.one_hot(target, len(CLASSES)).permute(0, 3, 1, 2).float()
        inter = (prob * onehot).sum((0, 2, 3))
        dice = 1 - ((2 * inter + 1) / (prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1))[1:].mean()
        return ce + dice

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        """One optimisation step."""
        if "image" not in batch:
            return None
        loss, _, _ = self._losses(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Loss and per-class IoU."""
        if "image" not in batch:
            return
        loss, logits, orient = self._losses(batch)
        self.log("val/loss", loss, sync_dist=True, batch_size=len(logits))
        labels = batch.get("orientation")
        keep = slice(None) if labels is None else _segmented(labels)
        self.val_iou.update(logits[keep].argmax(1), batch["target"][keep])
        if orient is not None and labels is not None:
            known = labels != NO_ORIENTATION
            self._orient_right += int((orient.argmax(1) == labels)[known].sum())
            self._orient_total += int(known.sum())

    def on_validation_epoch_end(self) -> None:
        """``val/iou`` (mean of the two lungs, upright films), ``val/iou_image_left``, ``val/iou_image_right``, ``val/orientation_acc``."""
        iou = self.val_iou.compute()
        self.log_dict({"val/iou": iou[1:].mean(), "val/iou_image_left": iou[1], "val/iou_image_right": iou[2]}, sync_dist=True)
        if self._orient_total:
            self.log("val/orientation_acc", self._orient_right / self._orient_total, sync_dist=True)
        self._orient_right = self._orient_total = 0
        self.val_iou.reset()

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with cosine decay per step."""
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total, eta_min=self.hparams.lr * 0.02)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _val_metrics(trainer: L.Trainer) -> dict[str, float]:
    return {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}


class ExportLungBundle(L.Callback):
    """After ``fit``: the best checkpoint's weights as a lung bundle (safetensors, ONNX, card).

    Args:
        out_dir: Bundle folder (default ``<log dir>/lung_bundle``).
        description: What the model was trained on, for the card.
    """

    def __init__(self, out_dir: str | None = None, description: str = "") -> None:
        self.out_dir = out_dir
        self.description = description
        self._by_epoch: dict[int, dict[str, float]] = {}

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep each epoch's validation metrics: the card gets those of the epoch its weights are from."""
        if not trainer.sanity_checking:
            self._by_epoch[trainer.current_epoch] = _val_metrics(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Export on the main process."""
        from .bundle_export import export_dir, restore_best

        out = export_dir(trainer, self.out_dir, "lung_bundle")
        if not trainer.is_global_zero:
            return
        best_epoch = restore_best(trainer, pl_module)
        dm = trainer.datamodule

        # the best epoch's figures, not the last epoch's (the card once showed the last epoch's
        # IoU beside the best epoch's weights); a run resumed past its best epoch knows only the
        # monitored score of it
        metrics = self._by_epoch.get(best_epoch) if best_epoch is not None else _val_metrics(trainer)
        if metrics is None:
            cb = trainer.checkpoint_callback
            score = getattr(cb, "best_model_score", None)
            metrics = {str(cb.monitor): float(score)} if score is not None and getattr(cb, "monitor", None) else {}
        data = {
            "manifest": os.path.basename(str(dm.manifest)),
            "description": self.description or str(dm.manifest),
            "n_train": len(dm.splits.get("train", [])),
            "n_val": len(dm.splits.get("val", [])),
        }
        if getattr(dm, "opacify", 0.0):  # real films drawn white while training: the card says so
            data["opacify"] = float(dm.opacify)
        hp = pl_module.hparams
        path = save_lung_bundle(
            pl_module.model,
            out,
            input_size=dm.image_size,
            encoder=hp.encoder,
            decoder_channels=tuple(hp.decoder_channels),
            training_data=data,
            metrics=metrics,
        )
        log.info("lung bundle written to %s", path)
