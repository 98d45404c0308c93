"""Lesion insertion: the miliary / reticulonodular pattern superimposed on real films, inside their lung fields."""

from ..phantom.insertion import ASSUMED_FIELD_MM, DISPLAY_PER_ATTENUATION, Inserted, insert_pattern

__all__ = ["ASSUMED_FIELD_MM", "DISPLAY_PER_ATTENUATION", "Inserted", "insert_pattern"]
