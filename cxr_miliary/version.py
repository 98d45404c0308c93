"""The package's version (a leaf: modules that record it import it from here, never from the package root)."""

__version__ = "0.1.0"
