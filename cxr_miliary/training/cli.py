"""LightningCLI entry point: ``python train.py fit --config configs/phantom.yaml``.

Config keys equal constructor arguments (``model.*`` = :class:`MiliaryModule`,
``data.*`` = :class:`~cxr_miliary.data.MiliaryDataModule`, ``trainer.*`` = Lightning's
Trainer). Multi-GPU / multi-node: ``--trainer.devices 4 --trainer.num_nodes 2
--trainer.strategy ddp`` — Lightning does the distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightning.pytorch.cli import LightningCLI

from ..data import MiliaryDataModule
from .module import MiliaryModule


class MiliaryCLI(LightningCLI):
    """LightningCLI with the input channels linked from the data to the model."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        """``data.channels`` sets ``model.in_chans`` so the two cannot disagree."""
        parser.link_arguments("data.channels", "model.in_chans")


def main(args: Sequence[str] | None = None) -> None:
    """Run the CLI (``args`` default to ``sys.argv[1:]``)."""
    MiliaryCLI(
        MiliaryModule,
        MiliaryDataModule,
        args=list(args) if args is not None else None,
        save_config_kwargs={"overwrite": True},
    )


def lungs_main(args: Sequence[str] | None = None) -> None:
    """The lung-field model's LightningCLI (``cxr-miliary train-lungs`` / ``python train.py lungs``)."""
    from ..data.lung_datamodule import LungMaskDataModule
    from .lung_module import LungFieldsModule

    LightningCLI(LungFieldsModule, LungMaskDataModule, args=list(args) if args is not None else None, save_config_kwargs={"overwrite": True})
