"""cxr-miliary: find the miliary / reticulonodular pattern on chest radiographs.

Not a medical device: outputs support research and must not be used for diagnosis.
"""

from __future__ import annotations

from .io import ImageError, Radiograph, RejectedImageError, UnreadableImageError, load_image
from .version import __version__

__all__ = ["ImageError", "Predictor", "Radiograph", "RejectedImageError", "UnreadableImageError", "__version__", "load_image"]


def __getattr__(name: str) -> type:
    # torch and timm load only when the Predictor is asked for: `info` and `load_image`
    # stay quick to start.
    if name == "Predictor":
        from .predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'cxr_miliary' has no attribute {name!r}")
