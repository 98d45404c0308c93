"""``cxr-miliary bench insertion``: is an inserted pattern realistic enough to learn from?

Two measurements on phantoms, where the truth is known (the same sizes, tiers and network
for every arm; every set has its own seed, the test set one never used for anything else):

- **transfer**: a network trained with *inserted* positives only (on-the-fly insertion
  into the negatives of a phantom set that has no positives) and one trained on
  *rendered* positives (the phantom set as generated), both tested on rendered positives
  and negatives of a fresh seed: AUROC and the subtle tier's AUROC;
- **tell-tale**: a network trained to tell inserted positives (the pattern drawn into
  normal phantoms by ``cxr-miliary insert``) from rendered ones (the same patterns and
  tiers): its AUROC on held-out images. 0.5 means it cannot tell them apart.

Real Lightning training on the CPU or a GPU. Benchmarks, not tests.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _fit(manifest: Path, root: Path, *, size: int, epochs: int, insertion: dict[str, Any] | None = None, seed: int = 0) -> Any:
    """A resnet10t (global head) trained on ``manifest``; returns the module."""
    import lightning as L

    from ..data import MiliaryDataModule
    from ..training import MiliaryModule

    L.seed_everything(seed)
    dm = MiliaryDataModule(str(manifest), image_size=size, batch_size=32, num_workers=2, insertion=insertion, seed=seed)
    module = MiliaryModule(backbone="resnet10t", in_chans=1, lr=1e-3, drop_rate=0.1)
    trainer = L.Trainer(
        accelerator="auto",
        devices=1,
        max_epochs=epochs,
        precision="bf16-mixed",
        default_root_dir=str(root),
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
    )
    trainer.fit(module, dm)
    return module, dm


def _scores(module: Any, manifest: Path, size: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Probabilities and labels of the test split of ``manifest`` (every image readable), and its rows."""
    from ..data import MiliaryDataModule
    from ..training.bundle_export import predict_logits

    dm = MiliaryDataModule(str(manifest), image_size=size, batch_size=32, num_workers=2)
    dm.setup()
    logits, labels = predict_logits(module.model, dm.test_dataloader())
    return 1 / (1 + np.exp(-logits)), labels.astype(int), dm.splits["test"]


def insertion_bench(
    *, n_train: int = 800, n_test: int = 300, size: int = 256, render: int = 512, epochs: int = 8, log: Callable[[str], Any] = print
) -> dict[str, Any]:
    """Run both measurements; return (and log) their figures."""
    from ..data.datamodule import PhantomSpec, generate_phantom_manifest
    from ..insertion.job import insert_files
    from ..metrics import auroc
    from ..phantom import generate_phantoms

    out: dict[str, Any] = {"n_train": n_train, "n_test": n_test, "input": size, "render": render, "epochs": epochs}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # test set: rendered positives and negatives of a fresh seed
        test = root / "test"
        man = pd.read_csv(generate_phantoms(n_test, test, seed=3901, size=render, workers=2))
        man.assign(split="test").to_csv(test / "test_manifest.csv", index=False)
        # transfer, rendered arm: the phantom set as generated (seed 3001)
        rendered = root / "rendered" / "train_manifest.csv"
        generate_phantom_manifest(str(rendered), PhantomSpec(n=n_train, size=render, seed=3001, ratios=(0.85, 0.15, 0.0)))
        # transfer, inserted arm: negatives only (seed 3002), half of them get the pattern each epoch
        negatives = root / "negatives" / "train_manifest.csv"
        negatives.parent.mkdir(parents=True)
        neg = pd.read_csv(generate_phantoms(n_train, negatives.parent, seed=3002, size=render, positive_fraction=0.0, workers=2))
        from ..data.splits import assign_splits

        neg.assign(split=assign_splits(neg, (0.85, 0.15, 0.0), 3002)).to_csv(negatives, index=False)
        arms = {"rendered positives": (rendered, None), "inserted positives only": (negatives, {"fraction": 0.5})}
        for name, (manifest, insertion) in arms.items():
            module, _ = _fit(manifest, root / name.replace(" ", "_"), size=size, epochs=epochs, insertion=insertion)
            p, y_test, rows = _scores(module, test / "test_manifest.csv", size)
            subtle = ((rows["label"] == 0) | (rows["difficulty"] == "subtle")).to_numpy()
            out[f"transfer_{name}"] = {"auroc": auroc(p, y_test), "auroc_subtle": auroc(p[subtle], y_test[subtle])}
            log(f"  transfer, trained on {name}: AUROC {out[f'transfer_{name}']['auroc']:.3f}, subtle {out[f'transfer_{name}']['auroc_subtle']:.3f}")
        # tell-tale: inserted (into normal phantoms, seed 3003) vs rendered positives (seed 3004), same patterns and tiers
        normals = root / "normals"
        generate_phantoms(n_train // 2, normals, seed=3003, size=render, patterns=("normal",), positive_fraction=0.0, workers=2)
        files = sorted(str(p) for p in (normals / "images").glob("*.png"))
        parts = []
        for k, (pattern, tier) in enumerate((pt, t) for pt in ("miliary", "reticulonodular") for t in ("subtle", "moderate", "florid")):
            res = insert_files(files[k::6], root / "inserted", pattern=pattern, tier=tier, seed=3003 + k, workers=2)
            parts.append(pd.read_csv(res["manifest"]))
        ins = pd.concat(parts)
        ins = ins.assign(path=[str(root / "inserted" / p) for p in ins["path"]], label=1)
        pos = pd.read_csv(generate_phantoms(n_train // 2, root / "positives", seed=3004, size=render, positive_fraction=1.0, workers=2))
        pos = pos.assign(path=[str(root / "positives" / p) for p in pos["path"]], label=0)
        both = pd.concat([ins[["path", "label", "patient_id"]], pos[["path", "label", "patient_id"]]]).reset_index(drop=True)
        both["split"] = assign_splits(both, (0.6, 0.1, 0.3), 7)
        tell = root / "telltale.csv"
        both.to_csv(tell, index=False)
        module, _ = _fit(tell, root / "telltale", size=size, epochs=epochs)
        p, y, rows = _scores(module, tell, size)
        out["telltale_auroc"] = auroc(p, y)
        out["telltale_test_images"] = len(rows)
        log(
            f"  tell-tale: a network trained to tell inserted from rendered positives reaches AUROC {out['telltale_auroc']:.3f} on {len(rows)} held-out images"
        )
    return out
