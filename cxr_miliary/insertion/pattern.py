"""The pattern drawn into a real film: :mod:`cxr_miliary.phantom.insertion` (kept importable here, where it was first)."""

from ..phantom.insertion import (  # noqa: F401 - the first home of these names
    ASSUMED_FIELD_MM,
    DISPLAY_PER_ATTENUATION,
    FINE_MM,
    PATTERNS,
    TIER_NAMES,
    Inserted,
    insert_pattern,
    spacing_for,
)
