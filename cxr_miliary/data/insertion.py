"""On-the-fly insertion while training: a chosen fraction of each epoch's negatives become positives.

``data.insertion: {fraction: 0.3, patterns: [miliary, reticulonodular], tiers: [subtle, moderate, florid]}``.
Which negatives, and how each is drawn, is keyed by (seed, epoch, row) like every other
augmentation, so a resumed run sees exactly the images an uninterrupted one would. The
pattern is added to the decoded film (or its cached copy) *before* the training
transform, so inserted and native positives go through the same augmentation and
normalisation: nothing but the pattern tells them apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..phantom.insertion import PATTERNS, TIER_NAMES, insert_pattern


@dataclass
class Insertion:
    """How many negatives become positives, and with what.

    Attributes:
        fraction: Share of each epoch's negatives that get the pattern (0-1).
        patterns: Patterns to draw from.
        tiers: Tiers to draw from.
    """

    fraction: float = 0.3
    patterns: list[str] = field(default_factory=lambda: list(PATTERNS))
    tiers: list[str] = field(default_factory=lambda: list(TIER_NAMES))

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.fraction) <= 1.0:
            raise ValueError("insertion.fraction must be between 0 and 1")
        bad = [p for p in self.patterns if p not in PATTERNS] + [t for t in self.tiers if t not in TIER_NAMES]
        if bad or not self.patterns or not self.tiers:
            raise ValueError(f"insertion: unknown or missing patterns/tiers {bad}; choose from {PATTERNS} and {TIER_NAMES}")

    def to_dict(self) -> dict[str, Any]:
        """For the model card."""
        return asdict(self)

    def draw(self, seed: int, epoch: int, row: int) -> np.random.Generator | None:
        """The generator of this (epoch, row)'s insertion, or None when the row stays as it is."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(row), 0x1A5]))
        return rng if rng.random() < self.fraction else None

    def apply(self, pixels: np.ndarray, rng: np.random.Generator, spacing_mm: float | None) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The film with a pattern drawn into its lung fields (the lung model's), or None when it has none."""
        from ..explain import lung_fields

        lungs = lung_fields(pixels).full()
        if not lungs.any():
            return None
        pattern, tier = str(rng.choice(self.patterns)), str(rng.choice(self.tiers))
        ins = insert_pattern(pixels, lungs, rng, pattern=pattern, tier=tier, spacing_mm=spacing_mm)
        return ins.pixels, ins.params
