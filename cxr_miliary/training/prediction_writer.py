r"""Scoring across GPUs and nodes with Lightning's ``Trainer.predict`` (DDP does the sharding).

    python train.py predict --config configs/padchest_miliary.yaml --ckpt_path runs/.../best.ckpt \\
        --trainer.devices 8 --trainer.num_nodes 4 --data.predict_split null \\
        --trainer.callbacks+=cxr_miliary.training.ScoreWriter --trainer.callbacks.out_dir scores/

Each rank appends its rows to ``out_dir/predictions.rank<N>.jsonl`` after every batch;
concatenate the files (rows carry the manifest path). Logits are raw: apply the bundle's
temperature, or export a bundle and use ``cxr-miliary score`` for calibrated single-node runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter


class ScoreWriter(BasePredictionWriter):
    """Write ``{path, label, logit, probability_uncalibrated}`` rows per batch, one file per rank."""

    def __init__(self, out_dir: str = "predictions") -> None:
        super().__init__(write_interval="batch")
        self.out_dir = Path(out_dir)

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Append this batch's rows to this rank's file and flush."""
        if prediction is None or not len(prediction["index"]):
            return
        rows = trainer.datamodule.splits["predict"]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"predictions.rank{trainer.global_rank}.jsonl"
        with open(path, "a", encoding="utf-8") as fh:
            for i, logit in zip(prediction["index"].tolist(), prediction["logit"].tolist(), strict=False):
                r = rows.iloc[i]
                fh.write(
                    json.dumps(
                        {
                            "path": r["path"],
                            "label": int(r["label"]),
                            "logit": logit,
                            "probability_uncalibrated": float(torch.sigmoid(torch.tensor(logit))),
                        }
                    )
                    + "\n"
                )
            fh.flush()
            os.fsync(fh.fileno())
