"""Explanations: Grad-CAM on an absolute scale, lung fields, distribution summary, overlays."""

from .cam import METHODS, absolute_map, raw_cam, to_image
from .distribution import PATTERNS, distribution
from .lungs import LungFields, estimate_lung_mask, find_lung_fields
from .pipeline import Explanation, explain, lung_fields
from .render import caption, overlay, save_png

__all__ = [
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
    "lung_fields",
    "overlay",
    "raw_cam",
    "save_png",
    "to_image",
]
