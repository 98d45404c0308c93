"""What cxr-miliary writes besides tables: overlays and maps, and DICOM results for PACS."""

from .dicom import write_dicom_results
from .files import Outputs, write_result_files
from .images import overlay_rgb, preview, save_overlay, save_png

__all__ = ["Outputs", "overlay_rgb", "preview", "save_overlay", "save_png", "write_dicom_results", "write_result_files"]
