"""Predictions written per batch, one file per rank, fsynced (a killed run keeps what it wrote)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import torch

from cxr_miliary.training.prediction_writer import ScoreWriter


def test_rows_are_appended_with_their_path_and_label(tmp_path):
    rows = pd.DataFrame({"path": ["a.png", "b.png", "c.png"], "label": [0, 1, 0]})
    trainer = SimpleNamespace(datamodule=SimpleNamespace(splits={"predict": rows}), global_rank=0)
    w = ScoreWriter(str(tmp_path / "pred"))
    w.write_on_batch_end(trainer, None, {"index": torch.tensor([2, 1]), "logit": torch.tensor([0.0, 2.0])}, None, None, 0)
    w.write_on_batch_end(trainer, None, {"index": torch.tensor([]), "logit": torch.tensor([])}, None, None, 1)
    lines = [json.loads(x) for x in (tmp_path / "pred" / "predictions.rank0.jsonl").read_text().splitlines()]
    assert [(r["path"], r["label"]) for r in lines] == [("c.png", 0), ("b.png", 1)]
    assert lines[0]["probability_uncalibrated"] == 0.5
