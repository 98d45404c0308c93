"""Explanations: Grad-CAM on an absolute scale, lung fields, distribution summary, overlays."""

from ..verdicts import caption  # the overlay caption is worded with every other verdict
from .cam import METHODS, absolute_map, raw_cam, to_image
from .distribution import PATTERNS, distribution
from .lungs import LungFields, estimate_lung_mask, find_lung_fields
from .mapfile import MAP_FORMATS, load_map, save_map
from .pipeline import Explanation, explain, lung_fields
from .render import overlay

__all__ = [
    "MAP_FORMATS",
    "METHODS",
    "PATTERNS",
    "Explanation",
    "LungFields",
    "absolute_map",
    "caption",
    "distribution",
    "estimate_lung_mask",
    "explain",
    "find_lung_fields",
    "load_map",
    "lung_fields",
    "overlay",
    "raw_cam",
    "save_map",
    "to_image",
]
