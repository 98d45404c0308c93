"""What cxr-miliary writes besides tables: overlays and maps, and DICOM results for PACS."""

from .dicom import write_dicom_results
from .images import overlay_rgb, preview, save_map, save_png

__all__ = ["overlay_rgb", "preview", "save_map", "save_png", "write_dicom_results"]
