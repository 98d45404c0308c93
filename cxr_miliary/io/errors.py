"""Errors raised when an input cannot be read or is not a chest radiograph.

Every error carries the file it concerns, a stable machine-readable ``code`` (the
"rejection code" that batch tables and the CLI report) and a reason a user can act on.
``str(error)`` is ``"<file>: <reason>"`` so a single line tells what and why.
"""

from __future__ import annotations

from pathlib import Path


class ImageError(Exception):
    """Base class: an input that yields no usable radiograph.

    Attributes:
        path: The file concerned (or ``"<array>"`` for in-memory input).
        code: Stable short identifier, e.g. ``"empty-file"`` or ``"modality"``.
        reason: Human-readable explanation, free of patient identifiers.
    """

    kind = "error"

    def __init__(self, path: str | Path, code: str, reason: str) -> None:
        self.path = str(path)
        self.code = code
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnreadableImageError(ImageError):
    """The file could not be decoded (missing, empty, truncated, unknown format, codec missing)."""

    kind = "unreadable"


class RejectedImageError(ImageError):
    """The file decodes but is not a frontal chest radiograph we should score.

    Rejections can be overridden with ``force=True`` (CLI ``--force``); the overridden
    reasons are then kept in ``meta.warnings``.
    """

    kind = "rejected"
