"""Training the lung-field model through its LightningCLI writes a bundle the segmenter runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxr_miliary.explain.lungs import learned_lung_fields
from cxr_miliary.models.lung_segmenter import LungSegmenter
from cxr_miliary.phantom import render_phantom
from cxr_miliary.training.cli import lungs_main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_fit_exports_a_working_lung_bundle(tmp_path):
    lungs_main(
        [
            "fit",
            "--config",
            str(ROOT / "configs" / "lung_fields.yaml"),
            "--trainer.accelerator",
            "cpu",
            "--trainer.precision",
            "32-true",
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "2",
            "--trainer.limit_val_batches",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path / "runs"),
            "--trainer.enable_progress_bar",
            "false",
            "--data.manifest",
            str(tmp_path / "lungs" / "manifest.csv"),
            "--data.phantoms",
            "16",
            "--data.phantom_size",
            "256",
            "--data.batch_size",
            "4",
            "--data.num_workers",
            "0",
            "--data.image_size",
            "128",
            "--data.opacify",
            "0.5",
        ]
    )
    (bundle,) = (tmp_path / "runs").rglob("lung_bundle")
    import json

    assert json.loads((bundle / "card.json").read_text())["training_data"]["opacify"] == 0.5  # the card says how it trained
    seg = LungSegmenter(bundle)
    fields = learned_lung_fields(render_phantom(5, 0, size=300).display, seg)
    assert fields.source == "learned" and fields.shape == (300, 300) and fields.sides is not None
    assert set(np.unique(fields.sides)) <= {0, 1, 2}


def test_negatives_count_for_the_segmentation_and_not_for_the_orientation():
    """A batch of negatives alone (orientation -1) trains the segmentation towards background and gives no orientation loss."""
    import torch

    from cxr_miliary.training.lung_module import LungFieldsModule

    torch.manual_seed(0)
    module = LungFieldsModule()
    image = torch.randn(2, 1, 64, 64)
    target = torch.zeros(2, 64, 64, dtype=torch.int64)
    negatives = {"image": image, "target": target, "orientation": torch.tensor([-1, -1])}
    loss, seg, _ = module._losses(negatives)
    assert torch.isfinite(loss) and loss > 0  # the segmentation loss of an empty target, no NaN from the ignored labels
    module.hparams.orientation_weight = 0.0
    same, _, _ = module._losses(negatives)
    assert torch.isclose(loss, same)  # nothing from the orientation head
    turned = {"image": image, "target": target, "orientation": torch.tensor([1, 1])}
    assert float(module._losses(turned)[0].detach()) == 0.0  # turned films: no segmentation loss, and the orientation weight is 0 here
