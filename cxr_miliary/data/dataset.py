"""A torch Dataset over a manifest; decode failures are skipped, counted, never fatal."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import albumentations as A
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from ..io import ImageError, load_image
from ..transforms import to_tensor
from .cache import INDEX, read_cached

log = logging.getLogger(__name__)


class ManifestDataset(Dataset):
    """Rows of a manifest -> ``{"image": C x H x W, "label": float, "index": int}``.

    A sample whose file cannot be decoded returns None (logged with the reason); use
    :func:`collate_skip` so the batch simply holds one image fewer and reports it.
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        root: str | os.PathLike[str],
        transform: A.Compose,
        channels: int = 1,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.paths = rows["path"].astype(str).tolist()
        self.labels = rows["label"].astype(np.float32).to_numpy()
        self.root = Path(root)
        self.transform = transform
        self.channels = channels
        self.cache: dict[str, str] | None = None
        self.cache_dir = Path(cache_dir) if cache_dir else None
        if self.cache_dir is not None:
            index = pd.read_csv(self.cache_dir / INDEX, dtype=str, keep_default_na=False)
            self.cache = dict(zip(index["path"], index["cache_path"]))

    def __len__(self) -> int:
        return len(self.paths)

    def pixels(self, i: int) -> np.ndarray:
        """Display pixels of row ``i`` from the cache when there is one, else from the file."""
        rel = self.paths[i]
        if self.cache is not None:
            cached = self.cache.get(rel, "")
            if not cached:
                raise ImageError(rel, "not-cached", "not in the cache (decode failed when the cache was prepared)")
            return read_cached(self.cache_dir / cached)  # type: ignore[operator]
        return load_image(self.root / rel).pixels

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        try:
            pixels = self.pixels(i)
        except ImageError as exc:
            log.warning("skipped %s", exc)
            return None
        except Exception as exc:  # a decoder bug must not kill a multi-hour run
            log.warning("skipped %s: %s", self.paths[i], type(exc).__name__)
            return None
        return {"image": to_tensor(pixels, self.transform, self.channels), "label": torch.tensor(self.labels[i]), "index": i}


def collate_skip(samples: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Stack the decodable samples; ``n_skipped`` counts the ones that failed."""
    good = [s for s in samples if s is not None]
    out: dict[str, Any] = {"n_skipped": len(samples) - len(good)}
    if good:
        out["image"] = torch.stack([s["image"] for s in good])
        out["label"] = torch.stack([s["label"] for s in good])
        out["index"] = torch.tensor([s["index"] for s in good])
    return out


class NegativeSubsampler(Sampler[int]):
    """Every epoch: all positives plus a fresh random subset of ``n_negatives`` negatives.

    With a few hundred positives among ~110k images this keeps epochs short while every
    negative is still seen over the run. Deterministic in (seed, epoch).
    """

    def __init__(self, labels: np.ndarray, n_negatives: int, seed: int = 0) -> None:
        self.pos = np.flatnonzero(labels > 0.5)
        self.neg = np.flatnonzero(labels <= 0.5)
        self.n_neg = min(int(n_negatives), len(self.neg))
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose which epoch's subset to draw (Lightning calls this when present)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pos) + self.n_neg

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        idx = np.concatenate([self.pos, rng.choice(self.neg, self.n_neg, replace=False)])
        return iter(rng.permutation(idx).tolist())
