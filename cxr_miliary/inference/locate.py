"""Kept for the old import path: the bundle search moved to :mod:`cxr_miliary.models.locate`."""

from ..models.locate import DEFAULT_NAME, ENV, default_bundle_candidates, find_default_bundle

__all__ = ["DEFAULT_NAME", "ENV", "default_bundle_candidates", "find_default_bundle"]
