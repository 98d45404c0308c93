"""Reading radiographs: DICOM, PNG, JPEG, TIFF -> :class:`Radiograph` (display values, no PHI)."""

from .errors import ImageError, RejectedImageError, UnreadableImageError
from .load import DEFAULT_MAX_PIXELS, load_image, sniff_format
from .radiograph import ImageMeta, Radiograph

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageError",
    "ImageMeta",
    "Radiograph",
    "RejectedImageError",
    "UnreadableImageError",
    "load_image",
    "sniff_format",
]
