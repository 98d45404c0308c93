"""The LightningDataModule: a manifest in, balanced augmented batches out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
from torch.utils.data import DataLoader

from ..transforms import REGION_MARGIN, REGIONS, Augment, Preprocess, eval_transform, train_transform
from .dataset import EpochSampler, ManifestDataset, collate_skip

log = logging.getLogger(__name__)


@dataclass
class PhantomSpec:
    """A phantom training set generated on first use (see :func:`~cxr_miliary.phantom.generate_phantoms`)."""

    n: int = 1000
    size: int | str = 512  # pixels, "detector" or "mix" (cxr_miliary.phantom.generator.geometry)
    seed: int = 0
    formats: tuple[str, ...] = ("png",)
    ratios: tuple[float, float, float] = (0.7, 0.15, 0.15)
    workers: int = 2


class MiliaryDataModule(L.LightningDataModule):
    """Data for training and evaluation, from a manifest with a ``split`` column.

    Args:
        manifest: Manifest CSV (``path,label,patient_id,split``).
        images_root: Root of the manifest's paths (default: the manifest's folder).
        cache_dir: A cache made by ``cxr-miliary prepare`` (read instead of the files).
        image_size: Network input side (512 by default; tiny nodules vanish at 224).
        channels: 1 or 3 input channels.
        mean: Normalisation mean (recorded in the model bundle).
        std: Normalisation std.
        batch_size: Batch size.
        num_workers: DataLoader worker processes.
        sampler: ``"none"`` or ``"balanced"`` (class-balanced sampling with replacement).
        negatives_per_epoch: If set, each epoch uses all positives and this many fresh
            random negatives.
        augment: Training augmentation strengths.
        seed: Seed for samplers and augmentation.
        phantoms: If the manifest does not exist yet, generate this phantom set there
            first (:class:`PhantomSpec`); it is reused on later runs. Lets
            ``configs/phantom.yaml`` run on a fresh clone.
        description: One line describing the data, for the model card.
        predict_split: Rows that ``Trainer.predict`` scores (None = every row).
        insertion: Turn a fraction of each epoch's training negatives into positives by
            drawing the pattern into their lung fields (``{fraction, patterns, tiers}``;
            :class:`~cxr_miliary.data.insertion.Insertion`); recorded in the card.
        region: ``film`` (the whole film) or ``lungs``: the network reads the box around
            both lung fields, cut by the same function inference uses (recorded in the card).
            With a ``prepare`` cache, cache at a larger size than ``image_size`` so the box
            still holds the detail it is cut for.
        region_margin: The lung box's margin (share of its side).
    """

    def __init__(
        self,
        manifest: str,
        images_root: str | None = None,
        cache_dir: str | None = None,
        image_size: int = 512,
        channels: int = 1,
        mean: float = 0.5,
        std: float = 0.25,
        batch_size: int = 16,
        num_workers: int = 2,
        sampler: str = "none",
        negatives_per_epoch: int | None = None,
        augment: Augment | None = None,
        seed: int = 0,
        phantoms: PhantomSpec | None = None,
        description: str = "",
        predict_split: str | None = None,
        insertion: dict[str, Any] | None = None,
        region: str = "film",
        region_margin: float = REGION_MARGIN,
    ) -> None:
        super().__init__()
        if sampler not in ("none", "balanced"):
            raise ValueError("sampler must be 'none' or 'balanced'")
        self.manifest = manifest
        self.images_root = images_root or str(Path(manifest).parent)
        self.cache_dir = cache_dir
        if region not in REGIONS:
            raise ValueError(f"region must be one of {', '.join(REGIONS)}")
        self.preprocess = Preprocess(image_size=image_size, channels=channels, mean=mean, std=std, region=region, region_margin=region_margin)
        self.augment = augment or Augment()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.sampler = sampler
        self.negatives_per_epoch = negatives_per_epoch
        self.seed = seed
        self.phantoms = phantoms
        self.description = description
        self.predict_split = predict_split
        self.insertion = None
        if insertion is not None:
            from .insertion import Insertion

            self.insertion = insertion if isinstance(insertion, Insertion) else Insertion(**insertion)
        self.splits: dict[str, pd.DataFrame] = {}

    def prepare_data(self) -> None:
        """Generate the phantom set on first use (main process only), then reuse it."""
        if self.phantoms and not Path(self.manifest).exists():
            generate_phantom_manifest(self.manifest, self.phantoms)

    def setup(self, stage: str | None = None) -> None:
        """Read the manifest and cut it by its ``split`` column."""
        if self.trainer is None:
            # outside a Trainer (scripts, notebooks) nobody called prepare_data; under a
            # Trainer, Lightning runs it on one process per node before setup, so every
            # rank must not generate the phantom set at once
            self.prepare_data()
        df = pd.read_csv(self.manifest, dtype={"path": str, "patient_id": str, "split": str})
        missing = {"path", "label", "split"} - set(df.columns)
        if missing:
            raise ValueError(f"{self.manifest}: manifest lacks {sorted(missing)}")
        self.splits = {s: df[df["split"] == s].reset_index(drop=True) for s in ("train", "val", "test")}
        self.splits["predict"] = (df if self.predict_split is None else df[df["split"] == self.predict_split]).reset_index(drop=True)

    @property
    def pos_fraction(self) -> float:
        """Fraction of positives in the training split (for the loss's ``pos_weight``)."""
        if not self.splits:
            self.setup()
        labels = self.splits["train"]["label"]
        p = float(labels.mean()) if len(labels) else 0.0
        return p + (1 - p) * self.insertion.fraction if self.insertion is not None else p  # inserted positives count

    def _dataset(self, split: str, train: bool) -> ManifestDataset:
        if not self.splits:
            self.setup()
        tf = train_transform(self.preprocess, self.augment) if train else eval_transform(self.preprocess)
        return self._manifest_dataset(self.splits[split], tf, self.insertion if train else None)

    def _manifest_dataset(self, rows: pd.DataFrame, tf: Any, insertion: Any = None) -> ManifestDataset:
        """The one way this module builds a dataset: every split, the reference's rows included, reads what inference reads."""
        return ManifestDataset(
            rows,
            self.images_root,
            tf,
            self.preprocess.channels,
            self.cache_dir,
            self.seed,
            insertion,
            region=self.preprocess.region,
            region_margin=self.preprocess.region_margin,
        )

    def _loader(self, ds: ManifestDataset, sampler: EpochSampler | None = None) -> DataLoader:
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=collate_skip,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Augmented training batches, shuffled, balanced or subsampled as configured."""
        ds = self._dataset("train", train=True)
        mode = "balanced" if self.sampler == "balanced" else "shuffle"
        return self._loader(ds, EpochSampler(ds.labels, mode, self.negatives_per_epoch, self.seed))

    def val_dataloader(self) -> DataLoader:
        """Deterministic validation batches."""
        return self._loader(self._dataset("val", train=False))

    def test_dataloader(self) -> DataLoader:
        """Deterministic test batches."""
        return self._loader(self._dataset("test", train=False))

    def eval_dataloader(self, split: str, max_rows: int | None = None) -> DataLoader:
        """Un-augmented batches of any split (at most ``max_rows`` rows, a seeded sample), e.g. for a bundle's reference."""
        if not self.splits:
            self.setup()
        rows = self.splits[split]
        if max_rows is not None and len(rows) > max_rows:
            rows = rows.sample(n=max_rows, random_state=self.seed).reset_index(drop=True)
        return self._loader(self._manifest_dataset(rows, eval_transform(self.preprocess)))

    def predict_dataloader(self) -> DataLoader:
        """Rows for ``Trainer.predict`` (distributed across GPUs/nodes by Lightning)."""
        return self._loader(self._dataset("predict", train=False))


def generate_phantom_manifest(manifest: str, spec: PhantomSpec) -> None:
    """Generate phantoms next to ``manifest`` and add a patient-level ``split`` column."""
    from ..phantom import generate_phantoms
    from .splits import assign_splits

    folder = Path(manifest).parent
    log.info("generating %d phantoms in %s (first use)", spec.n, folder)
    written = generate_phantoms(spec.n, folder, seed=spec.seed, size=spec.size, formats=tuple(spec.formats), workers=spec.workers)
    df = pd.read_csv(written)
    df["split"] = assign_splits(df, tuple(spec.ratios), spec.seed)
    tmp = Path(manifest).with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(manifest)
