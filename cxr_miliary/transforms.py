"""Preprocessing that travels with the weights: albumentations pipelines built from one record.

Training and inference both build their pipelines from :class:`Preprocess`, which the
model bundle stores, so inference can never drift from training (like timm's
pretrained config). Inputs are ``Radiograph.pixels``: float32 H x W in [0, 1].
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

# albumentations checks PyPI for a newer version when imported: never from a hospital network
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

if TYPE_CHECKING:
    import albumentations as A
    import torch


#: What the network reads: the whole film, or the box around both lung fields.
REGIONS = ("film", "lungs")
#: The lung region's margin on every side, as a share of the box's own width (left, right)
#: and height (top, bottom). Not chosen on phantoms: there (seed 7001, every condition, 512
#: and 1,024 px) the fields are easy and 2 % already keeps >= 99 % of the true lung on 95 %
#: of films in every condition (no margin: 98.3 % on effusion). Real films are harder: on
#: held-out real films a 5 % box kept 100 %, 99.3 % and 96.2 % of the true lung (PA CR,
#: legacy CR, AP; against independent outlines), so 5 % is the floor until real outlines
#: say more.
REGION_MARGIN = 0.05


@dataclass
class Preprocess:
    """Everything needed to turn display pixels into the network's input tensor.

    Attributes:
        image_size: Square input side; the image is resized (longest side) and padded.
            512 by default: 1-3 mm nodules vanish at 224.
        channels: 1 or 3 (grey replicated) input channels.
        mean: Normalisation mean (one value, applied to every channel).
        std: Normalisation standard deviation.
        region: ``film`` (the whole film; every bundle before the lung region) or ``lungs``
            (the box around both lung fields plus ``region_margin``, cut out before the
            resize: :func:`cxr_miliary.explain.region.network_view`).
        region_margin: The lung box's margin (share of its side).
    """

    image_size: int = 512
    channels: int = 1
    mean: float = 0.5
    std: float = 0.25
    region: str = "film"
    region_margin: float = REGION_MARGIN

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form for the model card."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocess:
        """Rebuild from a model card (unknown keys ignored; a card without ``region`` is a whole-film bundle)."""
        return cls(**{k: d[k] for k in ("image_size", "channels", "mean", "std", "region", "region_margin") if k in d})


@dataclass
class Augment:
    """Training augmentation strengths.

    No vertical flip ever; horizontal flip off by default (it moves the heart to the
    wrong side).
    """

    rotate_deg: float = 7.0
    shift: float = 0.05
    scale: float = 0.10
    brightness: float = 0.10
    contrast: float = 0.10
    gamma: tuple[int, int] = field(default_factory=lambda: (80, 120))
    clahe: bool = False
    hflip: bool = False
    p: float = 0.8


def letterbox(shape: tuple[int, int], size: int) -> tuple[int, int, int, int]:
    """Where an image of ``shape`` lands in the square network input: ``(top, left, height, width)``.

    The same geometry as :func:`eval_transform`'s resize (longest side to ``size``) and
    centre padding (albumentations' ``PadIfNeeded`` puts the odd pixel after the image),
    so maps at input resolution can be cut back out and resized to the image.
    """
    h, w = shape
    f = size / max(h, w)
    nh, nw = min(size, round(h * f)), min(size, round(w * f))
    return (size - nh) // 2, (size - nw) // 2, nh, nw


def _geometry(pre: Preprocess) -> list[A.BasicTransform]:
    import albumentations as A

    return [
        A.LongestMaxSize(max_size=pre.image_size, interpolation=cv2.INTER_AREA),
        A.PadIfNeeded(min_height=pre.image_size, min_width=pre.image_size, border_mode=cv2.BORDER_CONSTANT, fill=0),
    ]


class EvalTransform:
    """Resize (longest side, area interpolation) + centre pad + normalise: the network input of an image.

    The same arithmetic as albumentations' ``LongestMaxSize`` + ``PadIfNeeded`` +
    ``Normalize`` (a test holds them equal), written out so that inference does not import
    albumentations, which imports torch whenever torch is installed. Training validates and
    calibrates with this same object, so inference cannot drift from what was measured.
    Called like an albumentations pipeline: ``transform(image=pixels)["image"]``.
    """

    def __init__(self, pre: Preprocess) -> None:
        self.pre = pre

    def __call__(self, *, image: np.ndarray) -> dict[str, np.ndarray]:
        """``{"image": H x W float32}`` at the network's input size."""
        size = self.pre.image_size
        img = np.asarray(image, dtype=np.float32)
        h, w = img.shape[:2]
        scale = size / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        if (nh, nw) != (h, w):
            img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)  # also when enlarging, as the training pipeline does

        top, left = max(0, size - nh) // 2, max(0, size - nw) // 2
        out = np.zeros((max(size, nh), max(size, nw)), dtype=np.float32)
        out[top : top + nh, left : left + nw] = img
        out -= np.float32(self.pre.mean)
        out *= np.float32(1.0 / self.pre.std)
        return {"image": out}

    def set_random_seed(self, seed: int) -> None:
        """Nothing random here (the datasets seed every transform they are given)."""


def eval_transform(pre: Preprocess) -> EvalTransform:
    """Deterministic resize (longest side) + pad + normalise."""
    return EvalTransform(pre)


def train_transform(pre: Preprocess, aug: Augment | None = None) -> A.Compose:
    """Small rotations/shifts/scales, brightness/contrast/gamma, optional CLAHE and flip."""
    import albumentations as A

    from .intensity import BrightnessContrast, Standardise

    aug = aug or Augment()
    steps: list[A.BasicTransform] = [
        *_geometry(pre),
        A.Affine(
            rotate=(-aug.rotate_deg, aug.rotate_deg),
            translate_percent=(-aug.shift, aug.shift),
            scale=(1 - aug.scale, 1 + aug.scale),
            border_mode=cv2.BORDER_CONSTANT,
            fill=0,
            p=aug.p,
        ),
        BrightnessContrast(brightness_limit=aug.brightness, contrast_limit=aug.contrast, p=aug.p),
        A.RandomGamma(gamma_limit=aug.gamma, p=aug.p / 2),
    ]
    if aug.clahe:
        # CLAHE works on 8-bit images only
        steps += [A.FromFloat(max_value=255, dtype="uint8"), A.CLAHE(p=0.5), A.ToFloat(max_value=255)]
    if aug.hflip:
        steps.append(A.HorizontalFlip(p=0.5))
    steps.append(Standardise(pre.mean, pre.std))
    return A.Compose(steps)


def to_array(pixels: np.ndarray, transform: Any, channels: int) -> np.ndarray:
    """Apply ``transform`` to a 2-D [0, 1] image: a C x H x W float32 array (no torch needed)."""
    out = np.asarray(transform(image=np.ascontiguousarray(pixels, dtype=np.float32))["image"], dtype=np.float32)
    if out.ndim == 3:  # albumentations may return H x W x 1
        out = out[..., 0]
    return np.repeat(out[None], channels, axis=0)


def to_tensor(pixels: np.ndarray, transform: Any, channels: int) -> torch.Tensor:
    """Apply ``transform`` to a 2-D [0, 1] image and return a C x H x W float32 tensor."""
    import torch

    return torch.from_numpy(to_array(pixels, transform, channels))
