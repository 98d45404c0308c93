"""Explanations: Grad-CAM on an absolute scale, lung fields, distribution summary, overlays."""

from .cam import METHODS, absolute_map, raw_cam, to_image
from .distribution import PATTERNS, distribution
from .lungs import estimate_lung_mask
from .render import caption, overlay, save_png

__all__ = ["METHODS", "PATTERNS", "absolute_map", "caption", "distribution", "estimate_lung_mask", "overlay", "raw_cam", "save_png", "to_image"]
