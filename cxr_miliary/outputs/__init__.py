"""Outputs meant for PACS: DICOM Secondary Capture and Structured Report of a result."""

from .dicom import write_dicom_results

__all__ = ["write_dicom_results"]
