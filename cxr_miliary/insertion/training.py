"""On-the-fly insertion while training: :mod:`cxr_miliary.data.insertion` (kept importable here, where it was first)."""

from ..data.insertion import Insertion  # noqa: F401 - the first home of this name
