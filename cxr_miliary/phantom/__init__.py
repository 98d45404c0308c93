"""Synthetic chest radiographs with ground truth (``cxr-miliary phantom``).

A controlled test bench: anatomy varied per image, miliary and reticulonodular positives
from florid to subtle, and confounders that defeat texture or blob shortcuts.
"""

from .contact_sheet import contact_sheet
from .generator import (
    ALL_PATTERNS,
    DIFFICULTIES,
    NEGATIVE_PATTERNS,
    POSITIVE_PATTERNS,
    Phantom,
    render_phantom,
)
from .writer import generate_phantoms

__all__ = [
    "ALL_PATTERNS",
    "DIFFICULTIES",
    "NEGATIVE_PATTERNS",
    "POSITIVE_PATTERNS",
    "Phantom",
    "contact_sheet",
    "generate_phantoms",
    "render_phantom",
]
