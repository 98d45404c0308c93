"""Training the lung bundle's shape refiner (:mod:`cxr_miliary.models.lung_refiner`).

Two steps. :func:`make_refiner_data` renders phantoms of the lung model's conditions and
keeps, for each, what the refiner will see in use - the lung network's probabilities as
:func:`~cxr_miliary.explain.lungs.read_network` gives them (views averaged, unrefined) and
the letterboxed film - with the phantom's lungs, side by side, as the truth. Then
:func:`fit_refiner` trains the refiner on those with Lightning (cross-entropy plus soft
Dice on the two lungs), keeps the epoch with the best validation IoU, and writes it into
the lung bundle with its ONNX export. The data depend on the lung network: make them again
for another lung bundle.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import cv2
import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

log = logging.getLogger(__name__)

#: The conditions the refiner's phantoms are drawn from, and how often: white lungs, low
#: volumes and outlines drawn on real films, where the network's fields go wrong, most.
CONDITION_WEIGHTS: dict[str, float] = {
    "normal": 0.06,
    "consolidation": 0.09,
    "effusion": 0.09,
    "haze": 0.04,
    "white-out": 0.11,
    "bilateral-opacities": 0.13,
    "florid-miliary": 0.04,
    "ap-portable": 0.06,
    "devices": 0.04,
    "cardiomegaly": 0.04,
    "low-volume": 0.10,
    "real-lungs": 0.20,
}
#: Render sizes and their shares; half the films are framed as real films are (``tight``).
SIZES: dict[int, float] = {512: 0.55, 768: 0.2, 1024: 0.25}


def truth_sides(lung_side: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """A side map (0, 1 image-left, 2 image-right lung) letterboxed as the film is: each lung area-shrunk into ``box`` of an S x S square."""
    top, left, nh, nw = box
    out = np.zeros((size, size), np.uint8)
    for s in (1, 2):
        shrunk = cv2.resize((lung_side == s).astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA) > 0.5
        out[top : top + nh, left : left + nw][shrunk] = s
    return out


def refiner_sample(pixels: np.ndarray, lung_side: np.ndarray, seg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training sample: the two lungs' probabilities (2, S, S) and the square (S, S), both uint8 in 1/255, and the truth sides."""
    from ..explain.lungs import read_network

    read = read_network(pixels, seg, refine=False)
    probs = np.rint(np.clip(read.probs[1:], 0, 1) * 255).astype(np.uint8)
    image = np.rint(np.clip(read.square, 0, 1) * 255).astype(np.uint8)
    return probs, image, truth_sides(lung_side, read.box, seg.size)


def make_refiner_data(seg: Any, seed: int, n: int, out: str | os.PathLike[str], progress: Any = None) -> Path:
    """Render ``n`` phantoms of set ``seed`` (conditions :data:`CONDITION_WEIGHTS`, sizes :data:`SIZES`) and write their samples to ``out`` (.npz)."""
    from ..atomic import atomic_path
    from ..phantom import render_phantom

    rng = np.random.default_rng(seed)
    conds, cw = list(CONDITION_WEIGHTS), np.array(list(CONDITION_WEIGHTS.values()))
    sizes, sw = list(SIZES), np.array(list(SIZES.values()))
    probs, images, truths, names = [], [], [], []
    for i in range(n):
        cond = conds[rng.choice(len(conds), p=cw / cw.sum())]
        size = int(sizes[rng.choice(len(sizes), p=sw / sw.sum())])
        framing = "tight" if rng.random() < 0.5 else "phantom"
        ph = render_phantom(seed, i, size, condition=cond, framing=framing)
        p, im, t = refiner_sample(ph.display, ph.lung_side, seg)
        probs.append(p), images.append(im), truths.append(t), names.append(cond)
        if progress is not None:
            progress(i + 1, n)
    out = Path(out)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, probs=np.stack(probs), image=np.stack(images), truth=np.stack(truths), condition=np.array(names))
    return out


#: The training samples' augmentation (``fit_refiner(augment=True)``): small turns, shifts and
#: zooms of the film with its probabilities and truth, and the film's contrast and gamma, so
#: that a few thousand phantoms teach shapes rather than where each phantom's lungs sit.
AUGMENT = {"rotate": 5.0, "shift": 0.04, "scale": 0.08, "contrast": 0.15, "gamma": (80, 125), "p": 0.7}


def _augmentations(seed: int) -> tuple[Any, Any]:
    """The geometric pipeline (the two probabilities and the film together, the truth as a mask) and the film's intensity one."""
    # transforms first: it sets NO_ALBUMENTATIONS_UPDATE before albumentations loads
    from .. import transforms  # noqa: F401, I001
    import albumentations as A

    a = AUGMENT
    geometry = A.Affine(
        rotate=(-a["rotate"], a["rotate"]),
        translate_percent=(-a["shift"], a["shift"]),
        scale=(1 - a["scale"], 1 + a["scale"]),
        border_mode=cv2.BORDER_CONSTANT,
        fill=0,
        fill_mask=0,
        p=a["p"],
    )
    # contrast alone (no brightness): the letterbox's black border stays black
    intensity = A.Compose(
        [
            A.RandomBrightnessContrast(brightness_limit=0.0, contrast_limit=a["contrast"], p=a["p"] / 2),
            A.RandomGamma(gamma_limit=a["gamma"], p=a["p"] / 2),
        ],
        seed=seed + 1,
    )
    return A.Compose([geometry], seed=seed), intensity


class RefinerSamples(Dataset):
    """:func:`make_refiner_data` samples as refiner inputs (N, 4, S, S) and truths, kept as uint8 and converted per item.

    Args:
        probs: (N, 2, S, S) uint8 lung probabilities in 1/255.
        image: (N, S, S) uint8 squares.
        truth: (N, S, S) side maps.
        augment: Apply :data:`AUGMENT` to each item (training samples only).
        seed: The augmentation's seed.
    """

    def __init__(self, probs: np.ndarray, image: np.ndarray, truth: np.ndarray, augment: bool = False, seed: int = 0) -> None:
        self.probs, self.image, self.truth = probs, image, truth
        self.size = int(image.shape[-1])
        self._aug = _augmentations(seed) if augment else None

    def __len__(self) -> int:
        return len(self.image)

    def subset(self, index: np.ndarray, augment: bool = False, seed: int = 0) -> RefinerSamples:
        """The samples at ``index``, augmented (with ``seed``) or not."""
        return RefinerSamples(self.probs[index], self.image[index], self.truth[index], augment, seed)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        probs, image, truth = self.probs[i], self.image[i], self.truth[i]
        if self._aug is not None:
            geometry, intensity = self._aug
            stack = np.ascontiguousarray(np.concatenate([probs, image[None]]).transpose(1, 2, 0))
            out = geometry(image=stack, mask=truth)
            stack, truth = out["image"], out["mask"]
            probs, image = stack[..., :2].transpose(2, 0, 1), intensity(image=np.ascontiguousarray(stack[..., 2]))["image"]
        # numpy, not torch: per-item tensors this small lose their time to torch's thread pool
        x = np.empty((4, *image.shape), np.float32)
        x[1:3] = probs
        x[1:3] /= 255
        x[0] = np.maximum(1 - x[1] - x[2], 0)
        x[:3] /= x[:3].sum(0)
        x[3] = image
        x[3] /= 255
        return torch.from_numpy(x), torch.from_numpy(truth.astype(np.int64))


def load_refiner_data(paths: list[str | os.PathLike[str]]) -> RefinerSamples:
    """The samples of one or more :func:`make_refiner_data` files as one dataset (refiner inputs, truth), not augmented.

    Training augments its own subset only (:meth:`RefinerSamples.subset`); validation never is.
    """
    probs, images, truths = [], [], []
    for p in paths:
        with np.load(p, allow_pickle=False) as d:  # arrays only: never unpickle
            probs.append(d["probs"]), images.append(d["image"]), truths.append(d["truth"])
    return RefinerSamples(np.concatenate(probs), np.concatenate(images), np.concatenate(truths).astype(np.uint8))


def lung_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample IoU of the lungs (both sides together) of class logits against a side map."""
    a, b = logits.argmax(1) > 0, target > 0
    return (a & b).sum((1, 2)).float() / (a | b).sum((1, 2)).clamp_min(1).float()


class RefinerModule(L.LightningModule):
    """The refiner under Lightning: cross-entropy plus soft Dice on the two lungs, one-cycle AdamW.

    Args:
        lr: Peak learning rate.
        weight_decay: AdamW's weight decay.
    """

    def __init__(self, lr: float = 2e-3, weight_decay: float = 1e-4) -> None:
        super().__init__()
        from ..models.lung_refiner import create_lung_refiner

        self.save_hyperparameters()
        self.net = create_lung_refiner()
        self.best_iou = -1.0
        self.best_state: dict[str, torch.Tensor] | None = None
        self._ious: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refined class logits (see :func:`~cxr_miliary.models.lung_refiner.create_lung_refiner`)."""
        return self.net(x)

    @staticmethod
    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy plus the two lungs' soft Dice loss (Dice keeps small and white lungs weighed as whole lungs)."""
        ce = F.cross_entropy(logits, target)
        p = logits.softmax(1)[:, 1:]
        t = F.one_hot(target, 3).permute(0, 3, 1, 2)[:, 1:].float()
        dice = 1 - (2 * (p * t).sum((2, 3)) + 1) / (p.sum((2, 3)) + t.sum((2, 3)) + 1)
        return ce + dice.mean()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """The loss of one batch."""
        x, t = batch
        loss = self.loss(self(x), t)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Each validation sample's lung IoU."""
        x, t = batch
        self._ious.append(lung_iou(self(x), t))

    def on_validation_epoch_end(self) -> None:
        """The epoch's mean IoU; the weights of the best epoch so far are kept."""
        iou = float(torch.cat(self._ious).mean()) if self._ious else 0.0
        self._ious.clear()
        self.log("val/iou", iou)
        log.info("refiner epoch %d: validation IoU %.4f", self.current_epoch, iou)
        if not self.trainer.sanity_checking and iou > self.best_iou:
            self.best_iou = iou
            self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW under a one-cycle schedule over every step of the run."""
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        steps = int(self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, self.hparams.lr, total_steps=max(1, steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _present_refiner(bundle: str | os.PathLike[str], rec: dict[str, Any] | None) -> dict[str, torch.Tensor]:
    """The bundle's refiner weights to fine-tune from, checked against its card (sha256, shapes)."""
    from safetensors.torch import load_file

    from ..models.lung_refiner import CHANNELS, POOL, check_refiner_weights

    if rec is None:
        raise ValueError(f"{bundle}: the lung bundle has no refiner to start from")
    if tuple(rec["channels"]) != CHANNELS or int(rec["pool"]) != POOL:
        raise ValueError(f"{bundle}: its refiner is {rec['channels']} / pool {rec['pool']}, training builds {list(CHANNELS)} / pool {POOL}")
    return load_file(check_refiner_weights(Path(bundle), rec))


def fit_refiner(
    data: list[str | os.PathLike[str]],
    bundle: str | os.PathLike[str],
    *,
    epochs: int = 16,
    batch_size: int = 16,
    lr: float = 2e-3,
    val_share: float = 0.1,
    seed: int = 0,
    description: str = "",
    accelerator: str = "auto",
    augment: bool = False,
    init: bool = False,
) -> dict[str, Any]:
    """Train the refiner on ``data`` and write it into the lung bundle ``bundle``; returns the card's new ``refiner`` record.

    The validation samples (``val_share``, drawn with ``seed``) choose the epoch; the
    network's own probabilities on them give the baseline reported beside it. ``augment``
    turns, shifts and zooms the training samples (:data:`AUGMENT`); validation never is.
    ``init`` starts from the bundle's present refiner (a fine-tune) instead of an untrained one.
    """
    from ..models.lung_bundle import load_lung_card, save_refiner

    card = load_lung_card(bundle)
    size = int(card.input_size)
    start = _present_refiner(bundle, card.refiner) if init else None
    ds = load_refiner_data(list(data))
    if ds.size != size:
        raise ValueError(f"the refiner data are {ds.size} px squares, the lung bundle's input is {size} px: make them with this bundle")
    n = len(ds)
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(val_share * n))
    val, train = ds.subset(order[:n_val]), ds.subset(order[n_val:], augment=augment, seed=seed)
    del ds  # the subsets hold their own copies
    L.seed_everything(seed, workers=True, verbose=False)
    module = RefinerModule(lr=lr)
    if start is not None:
        module.net.load_state_dict(start)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,  # stdout is the command's JSON; each epoch is logged instead
        num_sanity_val_steps=0,
        deterministic=False,
    )
    trainer.fit(module, DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True), DataLoader(val, batch_size=64))
    if module.best_state is not None:
        module.net.load_state_dict(module.best_state)
    # batch by batch: 1,200 validation inputs stacked at once were 1.3 GB
    base = float(torch.cat([lung_iou(torch.log(x[:, :3].clamp_min(1e-4)), t) for x, t in DataLoader(val, batch_size=64)]).mean())
    metrics = {
        "val/iou": round(module.best_iou, 4),
        "val/iou_network_alone": round(base, 4),
        "n_train": n - n_val,
        "n_val": n_val,
        "epochs": epochs,
        "augment": augment,
        **({"init_sha256": card.refiner["weights"]["sha256"]} if init else {}),
    }
    log.info("refiner: validation IoU %.4f (the network alone %.4f)", module.best_iou, base)
    return save_refiner(
        module.net, bundle, training_data={"files": [Path(p).name for p in data], "description": description}, metrics=metrics, size=size
    )
