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
from ..transforms import REGION_MARGIN, to_tensor
from .cache import INDEX, read_cached

log = logging.getLogger(__name__)


class ManifestDataset(Dataset):
    """Rows of a manifest -> ``{"image": C x H x W, "label": float, "index": int}``.

    A sample whose file cannot be decoded returns None (logged with the reason); use
    :func:`collate_skip` so the batch simply holds one image fewer and reports it.

    Keys from :class:`EpochSampler` encode ``epoch * len(self) + row``; the augmentation
    is then seeded by (seed, epoch, row), so a sample's augmentation does not depend on
    the worker that draws it, and a run resumed from a checkpoint sees exactly the
    batches the uninterrupted run would have seen. With ``insertion``
    (:class:`~cxr_miliary.data.insertion.Insertion`), a negative drawn for insertion
    in this epoch gets the pattern before the transform and label 1 (``inserted`` is 1).
    With ``region="lungs"`` the transform gets the box around the lung fields
    (:func:`~cxr_miliary.explain.region.network_view`, the function inference cuts with;
    the whole film where the fields give no box, as at inference); each row's box is found
    once, as a share of the image, and reused in later epochs.
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        root: str | os.PathLike[str],
        transform: A.Compose,
        channels: int = 1,
        cache_dir: str | os.PathLike[str] | None = None,
        seed: int = 0,
        insertion: Any = None,
        region: str = "film",
        region_margin: float = REGION_MARGIN,
    ) -> None:
        self.paths = rows["path"].astype(str).tolist()
        self.labels = rows["label"].astype(np.float32).to_numpy()
        self.insertion = insertion
        # the film's pixel spacing and longest side as the manifest records them (phantoms do),
        # to draw inserted nodules in millimetres on a cached copy of any size
        self.spacing = pd.to_numeric(rows.get("pixel_spacing_mm", pd.Series(np.nan, index=rows.index)), errors="coerce").to_numpy()
        self.longest = pd.to_numeric(rows.get("size", pd.Series(np.nan, index=rows.index)), errors="coerce").to_numpy()
        self.root = Path(root)
        self.transform = transform
        self.channels = channels
        self.seed = seed
        self.region, self.region_margin = region, region_margin
        self._boxes: dict[int, tuple[float, float, float, float]] = {}  # row -> box as shares of the image's width and height
        self.cache: dict[str, str] | None = None
        self.cache_dir = Path(cache_dir) if cache_dir else None
        if self.cache_dir is not None:
            index = pd.read_csv(self.cache_dir / INDEX, dtype=str, keep_default_na=False)
            self.cache = dict(zip(index["path"], index["cache_path"], strict=False))

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

    def __getitem__(self, key: int) -> dict[str, Any] | None:
        epoch, i = divmod(int(key), len(self.paths))
        try:
            pixels = self.pixels(i)
        except ImageError as exc:
            log.warning("skipped %s", exc)
            return None
        except Exception as exc:  # a decoder bug must not kill a multi-hour run
            log.warning("skipped %s: %s", self.paths[i], type(exc).__name__)
            return None
        box = self._box(i, pixels) if self.region == "lungs" else None  # of the film as read, before any insertion
        label, inserted = self.labels[i], 0
        if self.insertion is not None and label < 0.5:
            rng = self.insertion.draw(self.seed, epoch, i)
            done = None if rng is None else self.insertion.apply(pixels, rng, self._spacing_at(i, pixels.shape))
            if done is not None:
                pixels, label, inserted = done[0], np.float32(1.0), 1
        if box is not None:
            h, w = pixels.shape[:2]
            pixels = pixels[round(box[1] * h) : round(box[3] * h), round(box[0] * w) : round(box[2] * w)]
        self.transform.set_random_seed(int(np.random.SeedSequence([self.seed, epoch, i]).generate_state(1)[0]))
        return {"image": to_tensor(pixels, self.transform, self.channels), "label": torch.tensor(label), "index": i, "inserted": inserted}

    def _box(self, i: int, pixels: np.ndarray) -> tuple[float, float, float, float]:
        """Row ``i``'s lung region as shares of the image's width and height (found on its first draw, then reused)."""
        if i not in self._boxes:
            from ..explain.lungs import find_lung_fields
            from ..explain.region import network_view

            h, w = pixels.shape[:2]
            x0, y0, x1, y1 = network_view(pixels, find_lung_fields(pixels), self.region, self.region_margin).box
            self._boxes[i] = (x0 / w, y0 / h, x1 / w, y1 / h)
        return self._boxes[i]

    def _spacing_at(self, i: int, shape: tuple[int, ...]) -> float | None:
        """Row ``i``'s pixel spacing at the resolution in hand (a cache holds reduced copies), or None when unknown."""
        spacing, longest = self.spacing[i], self.longest[i]
        if not np.isfinite(spacing):
            return None
        return float(spacing * longest / max(shape)) if np.isfinite(longest) else float(spacing)


def collate_skip(samples: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Stack the decodable samples; ``n_skipped`` counts the ones that failed."""
    good = [s for s in samples if s is not None]
    out: dict[str, Any] = {"n_skipped": len(samples) - len(good)}
    if good:
        out["image"] = torch.stack([s["image"] for s in good])
        out["label"] = torch.stack([s["label"] for s in good])
        out["index"] = torch.tensor([s["index"] for s in good])
        out["inserted"] = torch.tensor([s.get("inserted", 0) for s in good])
    return out


class EpochSampler(Sampler[int]):
    """Deterministic per-epoch order: shuffled, class-balanced, or negatives subsampled.

    Modes: ``"shuffle"`` (a permutation), ``"balanced"`` (len(labels) draws with
    replacement, half positives on average), ``"sequential"``. With ``n_negatives`` set,
    every epoch takes all positives plus a fresh random subset of that many negatives
    (a few hundred positives among ~110k images: short epochs, every negative seen over
    the run). The order depends only on (seed, epoch); Lightning calls :meth:`set_epoch`.
    Yields ``epoch * len(labels) + row`` (see :class:`ManifestDataset`).
    """

    def __init__(self, labels: np.ndarray, mode: str = "shuffle", n_negatives: int | None = None, seed: int = 0) -> None:
        if mode not in ("shuffle", "balanced", "sequential"):
            raise ValueError("mode must be 'shuffle', 'balanced' or 'sequential'")
        self.labels = np.asarray(labels) > 0.5
        self.mode = mode
        self.n_negatives = None if n_negatives is None else min(int(n_negatives), int((~self.labels).sum()))
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order to produce."""
        self.epoch = int(epoch)

    def _rows(self, rng: np.random.Generator) -> np.ndarray:
        n = len(self.labels)
        pos, neg = np.flatnonzero(self.labels), np.flatnonzero(~self.labels)
        if self.n_negatives is not None:
            return rng.permutation(np.concatenate([pos, rng.choice(neg, self.n_negatives, replace=False)]))
        if self.mode == "balanced" and pos.size and neg.size:
            w = np.where(self.labels, 0.5 / pos.size, 0.5 / neg.size)
            return rng.choice(n, size=n, replace=True, p=w / w.sum())
        if self.mode == "sequential":
            return np.arange(n)
        return rng.permutation(n)

    def __len__(self) -> int:
        return len(self.labels) if self.n_negatives is None else int(self.labels.sum()) + self.n_negatives

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        rows = self._rows(rng)
        offset = self.epoch * len(self.labels)
        self.epoch += 1  # when nobody calls set_epoch, successive passes still differ
        return iter((rows + offset).tolist())
