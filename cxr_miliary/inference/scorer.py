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

from ..explain.lungs import LungFields, find_lung_fields
from ..explain.region import View, network_view
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

    def view(self, pixels: np.ndarray, lungs: LungFields | None = None, usable: bool = True) -> tuple[np.ndarray, View]:
        """The network input (C x H x W float32) of a film's display values, and the :class:`~cxr_miliary.explain.region.View` it was cut from.

        Args:
            pixels: The film's display values.
            lungs: Its lung fields (found here when a lung-region bundle is given none).
            usable: False for a film the frontal-chest check refused (``--force``): a lung-region bundle falls back.
        """
        pre = self.preprocess
        if pre.region == "lungs" and lungs is None:
            lungs = find_lung_fields(pixels)
        v = network_view(pixels, lungs, pre.region, pre.region_margin, usable)
        return to_array(v.pixels, self._transform, pre.channels), v

    def inputs(self, pixels: np.ndarray, lungs: LungFields | None = None) -> np.ndarray:
        """The network input (C x H x W float32) of display values (the lung region for a lung-region bundle)."""
        return self.view(pixels, lungs)[0]

    def probability(self, logits: np.ndarray | float) -> np.ndarray:
        """Temperature-scaled sigmoid."""
        return sigmoid(np.asarray(logits, dtype=np.float64) / self.temperature)
