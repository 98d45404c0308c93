"""``Scorer``: what scoring needs of a model, and nothing else.

The runtime that computes logits (and, in the same pass, features and the head's
gradient), the preprocessing that makes network inputs, the calibration, the decision
threshold, the training-distribution reference, the training domain, the model's
identity, and the way to a raw map. A :class:`~cxr_miliary.inference.Predictor` builds
one; :mod:`.result` (one image or a batch), :mod:`.batch` and :mod:`.scoring` use it, so
none of them reaches into the Predictor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metrics import sigmoid
from ..models.reference import Reference
from ..transforms import Preprocess, eval_transform, to_array
from .runtime import Backend, Forward


@dataclass
class Scorer:
    """A model ready to score.

    Attributes:
        runtime: The backend (:mod:`.runtime`).
        preprocess: The bundle's preprocessing record.
        temperature: Calibration temperature.
        threshold: The bundle's decision threshold.
        reference: The training-distribution reference (None: the bundle has none).
        domain: What the bundle was trained on: ``synthetic``, ``real`` or ``mixed``.
        model: ``name``, ``sha256`` and ``runtime`` of the model (every result names it).
        training_description: The card's one line about the training data.
        maps: ``maps(x, method, forward)`` -> raw maps (B, h, w) at feature resolution.
    """

    runtime: Backend
    preprocess: Preprocess
    temperature: float
    threshold: float
    reference: Reference | None
    domain: str
    model: dict[str, str]
    training_description: str = ""
    maps: Callable[[np.ndarray, str, Forward | None], np.ndarray] | None = None
    _transform: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._transform = eval_transform(self.preprocess)

    @property
    def input_size(self) -> int:
        """The network's square input side."""
        return self.preprocess.image_size

    def inputs(self, pixels: np.ndarray) -> np.ndarray:
        """The network input (C x H x W float32) of display values."""
        return to_array(pixels, self._transform, self.preprocess.channels)

    def probability(self, logits: np.ndarray | float) -> np.ndarray:
        """Temperature-scaled sigmoid."""
        return sigmoid(np.asarray(logits, dtype=np.float64) / self.temperature)
