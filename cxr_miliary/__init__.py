"""cxr-miliary: find the miliary / reticulonodular pattern on chest radiographs.

Not a medical device: outputs support research and must not be used for diagnosis.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .io import ImageError, Radiograph, RejectedImageError, UnreadableImageError, load_image

__all__ = ["ImageError", "Radiograph", "RejectedImageError", "UnreadableImageError", "__version__", "load_image"]

