"""``cxr-miliary train-lungs ...``: the lung-field model's LightningCLI (same as ``python train.py lungs ...``)."""

from __future__ import annotations

import argparse

from .train import add_forwarder


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train-lungs`` command; everything after it goes to LightningCLI."""
    add_forwarder(sub, "train-lungs", "train the lung-field model: train-lungs fit --config configs/lung_fields.yaml", "lungs_main")
