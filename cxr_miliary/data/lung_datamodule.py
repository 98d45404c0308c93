"""Batches for the lung-field model: letterboxed images and class targets, heavily augmented.

Augmentation makes phantoms stand in for films from any scanner (issue: lung fields that
hold on real films): rotations, zooms that bring neck, shoulders or abdomen into the frame
or crop them out, gamma and contrast curves including inverted-looking ones, unsharp
masking and blur, noise, collimator borders. Real outlined films (JSRT, Montgomery,
Shenzhen) can also have air-space disease drawn into their lungs (``opacify``): the white
lungs real sets rarely hold, on real anatomy, the outline staying the truth
(:mod:`~cxr_miliary.phantom.airspace_insertion`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from .dataset import EpochSampler
from .lung_masks import is_negative, read_sample

log = logging.getLogger(__name__)


def _collimate(image: np.ndarray, **_: Any) -> np.ndarray:
    """White collimator borders of random widths (what shuttered edges look like)."""
    rng = np.random.default_rng(int(image.sum() * 1000) % (2**32))
    h, w = image.shape[:2]
    out = image.copy()
    t, b, le, r = (rng.uniform(0, 0.08, 4) * np.array([h, h, w, w])).astype(int)
    fill = rng.uniform(0.85, 1.0)
    out[:t] = fill
    out[h - b :] = fill
    out[:, :le] = fill
    out[:, w - r :] = fill
    return out


def lung_transforms(size: int, train: bool) -> Any:
    """The letterbox to ``size`` (and, for training, the heavy augmentation)."""
    import albumentations as A

    steps: list[Any] = [
        A.LongestMaxSize(max_size=size, interpolation=cv2.INTER_AREA),
        A.PadIfNeeded(min_height=size, min_width=size, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0),
    ]
    if train:
        steps += [
            A.Affine(
                rotate=(-12, 12), scale=(0.7, 1.25), translate_percent=(-0.08, 0.08), border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=0.9
            ),
            A.RandomGamma(gamma_limit=(55, 170), p=0.7),
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.35, p=0.7),
            A.OneOf([A.UnsharpMask(p=1.0), A.Sharpen(p=1.0), A.GaussianBlur(blur_limit=(3, 5), p=1.0)], p=0.5),
            A.GaussNoise(std_range=(0.01, 0.06), p=0.5),
            A.Lambda(image=_collimate, p=0.25),
            A.InvertImg(p=0.15),
        ]
    return A.Compose(steps)


#: Share of films the orientation head is shown turned (training); validation turns every sixth.
TURNED_FRACTION = 0.35
#: The orientation label of a picture with no lung (a negative): ignored by the orientation loss.
NO_ORIENTATION = -1


def turn(image: np.ndarray, target: np.ndarray, k: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """Turn a square image and its target by ``k`` quarter turns (``np.rot90``); ``flip`` with k = 2: upside down by a mirror instead."""
    if k == 2 and flip:
        return image[::-1].copy(), target[::-1].copy()
    return np.rot90(image, k).copy(), np.rot90(target, k).copy()


class LungMaskDataset(Dataset):
    """Manifest rows -> ``{"image": 1 x S x S normalised, "target": S x S (0/1/2), "orientation": k}``; unreadable rows are skipped.

    With ``orientations``, some films are turned (a quarter turn either way, upside down
    by rotation or by a mirror) and ``orientation`` says how
    (:data:`~cxr_miliary.models.lung_model.ORIENTATIONS`), keyed by (seed, epoch, row)
    like the rest of the augmentation. Negatives (``source`` ``negative``) are never turned
    and carry :data:`NO_ORIENTATION`.
    """

    def __init__(self, rows: pd.DataFrame, size: int, train: bool, seed: int = 0, orientations: bool = True, opacify: float = 0.0) -> None:
        self.rows = rows.to_dict("records")
        self.tf = lung_transforms(size, train)
        self.size = size
        self.seed = seed
        self.train = train
        self.orientations = orientations
        self.opacify = opacify

    def _opacified(self, pixels: np.ndarray, target: np.ndarray, epoch: int, i: int) -> np.ndarray:
        """The film with air-space disease drawn in, for a real outlined film drawn to have it (``opacify``); else as read.

        Phantoms carry their own conditions and negatives no lungs: neither is drawn on.
        The drawing is done at twice the network's input at most (the transforms shrink it to
        the input next), so a 3,000-px film costs what a 512-px one does.
        """
        if not (self.train and self.opacify > 0) or str(self.rows[i].get("source")) == "phantom" or is_negative(self.rows[i]):
            return pixels
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, i, 91]))
        if rng.random() >= self.opacify or not ((target == 1).any() and (target == 2).any()):
            return pixels
        from ..phantom.airspace_insertion import OPACITIES, opacify

        h, w = pixels.shape
        scale = min(1.0, 2 * self.size / max(h, w))
        shape = (max(1, round(w * scale)), max(1, round(h * scale)))
        film, outline = pixels, target.astype(np.uint8)
        if scale < 1.0:
            film = cv2.resize(pixels, shape, interpolation=cv2.INTER_AREA)
            outline = cv2.resize(outline, shape, interpolation=cv2.INTER_NEAREST)
        drawn = opacify(film, outline, str(rng.choice(OPACITIES)), rng).pixels
        return drawn if scale == 1.0 else cv2.resize(drawn, (w, h), interpolation=cv2.INTER_LINEAR)

    def _orientation(self, epoch: int, i: int) -> tuple[int, bool]:
        if not self.orientations:
            return 0, False
        if not self.train:  # a fixed sixth of the validation films, every way round
            return ((i // 6) % 3 + 1, (i // 18) % 2 == 1) if i % 6 == 5 else (0, False)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, i, 90]))
        if rng.random() >= TURNED_FRACTION:
            return 0, False
        return int(rng.integers(1, 4)), bool(rng.random() < 0.5)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int) -> dict[str, Any] | None:
        # keys from EpochSampler encode epoch * len + row, so every epoch draws fresh
        # augmentation, keyed by (seed, epoch, row) as the classifier's data is
        epoch, i = divmod(int(key), len(self.rows))
        try:
            pixels, target = read_sample(self.rows[i])
        except Exception as exc:  # one bad file is one skipped sample
            log.warning("skipped %s: %s", self.rows[i].get("path"), type(exc).__name__)
            return None
        pixels = self._opacified(np.asarray(pixels, dtype=np.float32), target, epoch, i)
        self.tf.set_random_seed(int(np.random.SeedSequence([self.seed, epoch, i]).generate_state(1)[0]))
        out = self.tf(image=np.clip(pixels, 0, 1).astype(np.float32), mask=target.astype(np.uint8))
        # a picture with no lung has no way up: shown as drawn, out of the orientation loss
        negative = is_negative(self.rows[i])
        k, flip = (0, False) if negative else self._orientation(epoch, i)
        image, mask = turn(out["image"], out["mask"], k, flip) if k else (out["image"], out["mask"])
        image = (np.clip(image, 0, 1) - 0.5) / 0.25
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None],
            "target": torch.from_numpy(mask.astype(np.int64)),
            "orientation": NO_ORIENTATION if negative else k,
        }


def collate_masks(samples: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Stack the readable samples."""
    good = [s for s in samples if s is not None]
    if not good:
        return {}
    return {
        "image": torch.stack([s["image"] for s in good]),
        "target": torch.stack([s["target"] for s in good]),
        "orientation": torch.tensor([s.get("orientation", 0) for s in good], dtype=torch.int64),
    }


class LungMaskDataModule(L.LightningDataModule):
    """Lung-mask data from a manifest (``cxr-miliary manifest jsrt|montgomery|shenzhen|phantom-lungs``).

    Args:
        manifest: Lung-mask manifest with a ``split`` column.
        image_size: Network input side (256: the lung fields are large structures).
        batch_size: Batch size.
        num_workers: DataLoader workers.
        phantoms: If the manifest does not exist, generate this many phantoms next to it first.
        phantom_seed: Their seed.
        phantom_size: Their side in pixels (or ``"detector"``, ``"mix"``).
        phantom_condition: Their real-film conditions (``lung-mix``: opacified lungs, AP films,
            devices, varied bodies; see :mod:`~cxr_miliary.phantom.conditions`), None: plain PA phantoms.
        seed: Augmentation seed.
        orientations: Turn some films and label how, for the orientation head.
        opacify: The chance a real outlined film (any source but phantoms and negatives) is
            drawn with air-space disease in its lungs, or lines and wires, in a training epoch (0: never).
    """

    def __init__(
        self,
        manifest: str,
        image_size: int = 256,
        batch_size: int = 32,
        num_workers: int = 2,
        phantoms: int = 0,
        phantom_seed: int = 2000,
        phantom_size: int | str = 512,
        phantom_condition: str | None = None,
        seed: int = 0,
        orientations: bool = True,
        opacify: float = 0.0,
    ) -> None:
        super().__init__()
        self.manifest = manifest
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.phantoms = phantoms
        self.phantom_seed = phantom_seed
        self.phantom_size = phantom_size
        self.phantom_condition = phantom_condition
        self.seed = seed
        self.orientations = orientations
        if not 0.0 <= opacify <= 1.0:
            raise ValueError(f"opacify is a chance between 0 and 1, not {opacify}")
        self.opacify = opacify
        self.splits: dict[str, pd.DataFrame] = {}

    def prepare_data(self) -> None:
        """Generate the phantom set on first use."""
        if self.phantoms and not Path(self.manifest).exists():
            from ..phantom import generate_phantoms
            from .lung_masks import phantom_lung_manifest

            folder = Path(self.manifest).parent / "phantoms"
            written = generate_phantoms(
                self.phantoms,
                folder,
                seed=self.phantom_seed,
                size=self.phantom_size,
                formats=("png",),
                workers=max(1, self.num_workers),
                condition=self.phantom_condition,
            )
            phantom_lung_manifest(written, self.manifest, seed=self.phantom_seed)

    def setup(self, stage: str | None = None) -> None:
        """Read the manifest and cut it by split."""
        if self.trainer is None:
            self.prepare_data()
        df = pd.read_csv(self.manifest, dtype=str, keep_default_na=False)
        self.splits = {s: df[df["split"] == s].reset_index(drop=True) for s in ("train", "val", "test")}

    def _loader(self, split: str, train: bool) -> DataLoader:
        if not self.splits:
            self.setup()
        ds = LungMaskDataset(self.splits[split], self.image_size, train, self.seed, self.orientations, self.opacify)
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            sampler=EpochSampler(np.zeros(len(ds)), "shuffle" if train else "sequential", seed=self.seed),
            num_workers=self.num_workers,
            collate_fn=collate_masks,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Augmented training batches."""
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        """Letterboxed validation batches."""
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        """Letterboxed test batches."""
        return self._loader("test", False)
