"""The first half of every result: decode, find the lung fields, check the film, make the network input.

``predict`` runs it in its own process for one image, ``score`` in its decode workers for
many; both hand what it returns (:class:`Decoded`, small enough to pass between
processes) to :func:`cxr_miliary.inference.result.complete`, which runs the model. A
file that cannot be read, or that the checks refuse, is a :class:`Decoded` with its
error, never an exception (unless the caller asks for one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..explain import LungFields, lung_fields
from ..io import ImageError, ImageMeta, Radiograph, load_image
from .chest_check import ChestVerdict
from .integrity import chest_verdict

#: The longest side of the copy overlays are drawn on (``--overlay-size``).
PREVIEW_SIDE = 1024


@dataclass
class Decoded:
    """One input, decoded and checked, before the model.

    Attributes:
        index: Its position in the job.
        path: The input as given.
        error: ``"<code>: <reason>"`` when it has no result (unreadable, refused).
        inputs: The network input (C x H x W float32).
        meta: What was decoded (no identifiers).
        verdict: The frontal-chest check's verdict.
        lungs: The lung fields (a small mask: cheap to pass between processes).
        preview: The image at most ``preview_side`` pixels a side (only when maps are drawn).
        forced: ``--force`` was given.
        region: ``(x0, y0, x1, y1)``: the part of the film the network input was made of.
        region_fallback: A lung-region bundle read the whole film (the fields gave no box).
    """

    index: int
    path: str
    error: str = ""
    inputs: np.ndarray | None = None
    meta: ImageMeta | None = None
    verdict: ChestVerdict | None = None
    lungs: LungFields | None = None
    preview: np.ndarray | None = None
    forced: bool = False
    region: tuple[int, int, int, int] | None = None
    region_fallback: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the decoded image."""
        assert self.meta is not None
        return (self.meta.rows, self.meta.columns)

    @property
    def is_dicom(self) -> bool:
        """The input is a DICOM file (DICOM results can be attached to its study)."""
        return self.meta is not None and self.meta.source_format == "dicom"


def radiograph(image: str | os.PathLike[str] | np.ndarray | Radiograph, force: bool = False) -> Radiograph:
    """A :class:`Radiograph` from a file, a 2-D array of display values in [0, 1], or a Radiograph."""
    if isinstance(image, Radiograph):
        return image
    if isinstance(image, np.ndarray):
        arr = np.asarray(image, dtype=np.float32)
        if arr.ndim != 2:
            raise ValueError("an array input must be 2-D display values in [0, 1]")
        if not np.isfinite(arr).all():
            raise ValueError("an array input must be finite")
        arr = np.clip(arr, 0.0, 1.0)
        meta = ImageMeta(
            source_format="array", rows=arr.shape[0], columns=arr.shape[1], warnings=["array input: modality, view and spacing unverified"]
        )
        return Radiograph(arr, meta)
    return load_image(Path(image), force=force)


def preview(pixels: np.ndarray, side: int | None = PREVIEW_SIDE) -> np.ndarray:
    """A copy of the image at most ``side`` pixels a side (area-averaged; None: the image itself), float32."""
    import cv2

    h, w = pixels.shape
    f = 1.0 if side is None else min(1.0, side / max(h, w))
    if f >= 1.0:
        return pixels.astype(np.float32, copy=False)
    return cv2.resize(pixels.astype(np.float32), (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def decode(
    image: str | os.PathLike[str] | np.ndarray | Radiograph,
    inputs_of: Any,
    *,
    index: int = 0,
    force: bool = False,
    preview_side: int | None | bool = False,
    raise_errors: bool = False,
) -> Decoded:
    """Decode one input and check it; the network input is made by ``inputs_of(pixels, lungs, usable)``.

    Args:
        image: A file, a 2-D array of display values, or a Radiograph.
        inputs_of: (display values, lung fields, usable) -> (network input, view)
            (:meth:`~cxr_miliary.inference.scorer.Scorer.view`); None: no network input (the
            decoded film's checks and lung fields only, as ``insert`` needs).
        index: Its position in the job.
        force: Score inputs the checks refuse (marked in the result).
        preview_side: Keep a preview for overlays at most this many pixels a side
            (None: full size; False: no preview).
        raise_errors: Raise the :class:`~cxr_miliary.io.ImageError` instead of returning it.
    """
    path = str(image) if isinstance(image, (str, os.PathLike)) else getattr(image, "path", "<array>")
    try:
        rad = radiograph(image, force)
        lungs = lung_fields(rad.pixels)
        verdict = chest_verdict(path, rad.pixels, lungs, force)
    except ImageError as exc:
        if raise_errors:
            raise
        return Decoded(index, path, f"{exc.code}: {exc.reason}")
    except Exception as exc:  # a decoder bug is one file's problem
        if raise_errors:
            raise
        return Decoded(index, path, f"decode-failed: {type(exc).__name__}")
    out = Decoded(index, path, meta=rad.meta, verdict=verdict, lungs=lungs, forced=force)
    if inputs_of is not None:
        out.inputs, view = inputs_of(rad.pixels, lungs, verdict.frontal_chest)
        out.region, out.region_fallback = view.box, view.fallback
    if preview_side is not False:
        out.preview = preview(rad.pixels, preview_side)  # type: ignore[arg-type]
    return out
