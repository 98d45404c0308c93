"""Running a lung bundle: ONNX Runtime when its export is there (no torch), else the PyTorch network."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .bundle import BundleError
from .lung_bundle import check_lung_weights, load_lung_card
from .lung_model import CLASSES, create_lung_model, normalise, split_outputs


class LungSegmenter:
    """Runs a lung bundle: ONNX Runtime when its export is there (no torch), else the PyTorch network.

    Args:
        folder: The lung bundle.
        threads: Intra-op threads for ONNX Runtime (1 by default: it runs beside decode workers).
    """

    def __init__(self, folder: str | os.PathLike[str], threads: int | None = 1) -> None:
        self.folder = Path(folder)
        self.card = load_lung_card(self.folder)
        self.size = int(self.card.input_size)
        self._model = None
        from .onnx import record_session

        self._session = record_session(self.folder, self.card.onnx, threads)
        if self._session is None:
            import torch
            from safetensors.torch import load_file

            weights = check_lung_weights(self.folder, self.card)
            self._model = create_lung_model(self.card.encoder, tuple(self.card.decoder_channels), orientation=bool(self.card.orientation)).eval()
            self._model.load_state_dict(load_file(str(weights)), strict=True)
            self._torch = torch
        self._refiner = None
        if self.card.refiner is not None:
            from .lung_refiner import RefinerRunner

            self._refiner = RefinerRunner(self.folder, self.card.refiner, threads)
        self._check_outputs()

    def _check_outputs(self) -> None:
        """One blank input through the network: a graph that gives other shapes is refused now, not on every image."""
        try:
            seg, orient = self.run(np.zeros((1, 1, self.size, self.size), dtype=np.float32))
        except Exception as exc:
            raise BundleError(f"{self.folder}: the lung model does not run ({type(exc).__name__})") from None
        want_orient = None if not self.orientations else (1, len(self.orientations))
        if seg.shape != (1, len(CLASSES), self.size, self.size) or (None if orient is None else orient.shape) != want_orient:
            raise BundleError(f"{self.folder}: the lung model's outputs {seg.shape} do not match its card")
        if self._refiner is not None:
            blank = np.full((3, self.size, self.size), 1 / 3, np.float32)
            if self.refine(blank, blank[0]).shape != blank.shape:
                raise BundleError(f"{self.folder}: the lung refiner's outputs do not match its card")

    @property
    def orientations(self) -> tuple[str, ...] | None:
        """The orientation head's classes, or None for a bundle without the head."""
        return tuple(self.card.orientation) if self.card.orientation else None

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(N, 3, S, S)`` class logits and ``(N, 4)`` orientation logits (None without the head) for (N, 1, S, S) inputs."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._session is not None:
            names = ["logits", "orientation"] if self.orientations else ["logits"]
            try:
                out = self._session.run(names, {"image": x})
            except Exception as exc:  # a graph whose inputs or outputs are not the card's
                raise BundleError(f"{self.folder}: the lung model's ONNX export does not run ({type(exc).__name__})") from None
            return out[0], (out[1] if len(out) > 1 else None)
        with self._torch.no_grad():
            seg, orient = split_outputs(self._model(self._torch.from_numpy(x)))
        return seg.numpy(), None if orient is None else orient.numpy()

    @property
    def has_refiner(self) -> bool:
        """Whether the bundle carries a shape refiner (:meth:`refine`)."""
        return self._refiner is not None

    def refine(self, probs: np.ndarray, square: np.ndarray) -> np.ndarray:
        """(3, S, S) class probabilities corrected by the bundle's shape refiner (the input as it is without one)."""
        if self._refiner is None:
            return probs
        from .lung_refiner import refiner_input

        try:
            logits = self._refiner.logits(refiner_input(probs, square))
        except BundleError:
            raise
        except Exception as exc:
            raise BundleError(f"{self.folder}: the lung refiner does not run ({type(exc).__name__})") from None
        return _softmax(logits[0].astype(np.float32), axis=0)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) class logits for (N, 1, S, S) inputs."""
        return self.run(x)[0]

    def predict(self, square: np.ndarray) -> tuple[np.ndarray, dict[str, float] | None]:
        """Class probabilities (3, S, S) of a square S x S display-value image, and its orientation probabilities (or None)."""
        probs, orient = self._class_probabilities([square])
        probs = probs[0]
        if orient is None or self.orientations is None:
            return probs, None
        p = _softmax(orient[0].astype(np.float64), axis=0)
        return probs, {name: round(float(v), 4) for name, v in zip(self.orientations, p, strict=True)}

    def predict_views(self, square: np.ndarray, zooms: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities of a square image on views of it zoomed about its centre (one batch), mapped back onto its pixels.

        A view zoomed out (``z`` < 1) is the square shrunk into a black frame, as the
        letterbox pads, and sees every pixel; one zoomed in (``z`` > 1) is its middle
        enlarged, and sees the pixels within ``1/z`` of the centre only.

        Returns:
            ``(total, seen)``: the (3, S, S) sum of the views' probabilities on each pixel,
            and the (S, S) number of views that see it.
        """
        if not zooms or not all(0.25 <= z <= 4.0 for z in zooms):
            raise ValueError("zooms must be factors from 0.25 to 4")
        probs, _ = self._class_probabilities([zoom_view(square, z) for z in zooms])
        n = square.shape[-1]
        total, seen = np.zeros((probs.shape[1], n, n), np.float32), np.zeros((n, n), np.float32)
        for p, z in zip(probs, zooms, strict=True):
            sees = np.ones((n, n), bool) if z <= 1.0 else zoom_back(np.ones((n, n), np.float32), z) > 0.999
            total += np.stack([zoom_back(c, z) for c in p]) * sees
            seen += sees
        return total, seen

    def _class_probabilities(self, squares: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """(N, 3, S, S) class probabilities of N squares in one batch, and the orientation logits (or None)."""
        norm = self.card.normalise
        seg, orient = self.run(np.concatenate([normalise(q, norm["mean"], norm["std"]) for q in squares]))
        return _softmax(seg.astype(np.float32), axis=1), orient

    def probabilities(self, square: np.ndarray) -> np.ndarray:
        """(3, S, S) class probabilities (background, image-left lung, image-right lung) of a square S x S display-value image."""
        return self.predict(square)[0]

    def sides(self, square: np.ndarray) -> np.ndarray:
        """int8 (S, S) class map (0, 1 image-left lung, 2 image-right lung) of a square S x S display-value image."""
        return np.argmax(self.probabilities(square), axis=0).astype(np.int8)


def _zoom(a: np.ndarray, scale: float) -> np.ndarray:
    """``a`` (S x S) scaled by ``scale`` about its centre, black outside (out[q] = a[c + (q - c) / scale])."""
    n = a.shape[-1]
    c = (n - 1) / 2
    m = np.array([[1 / scale, 0, c - c / scale], [0, 1 / scale, c - c / scale]], np.float32)
    return cv2.warpAffine(
        np.asarray(a, np.float32), m, (n, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def zoom_view(square: np.ndarray, z: float) -> np.ndarray:
    """A view of the square scaled by ``z`` about its centre: shrunk into a black frame (``z`` < 1) or its middle enlarged."""
    return square if z == 1.0 else _zoom(square, z)


def zoom_back(view: np.ndarray, z: float) -> np.ndarray:
    """A map over :func:`zoom_view`'s view taken back onto the square's pixels (black where the view does not reach)."""
    return view if z == 1.0 else _zoom(view, 1 / z)


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    z = np.exp(z - z.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)
