"""Stored DICOM values -> display values in [0, 1], in the order the standard prescribes.

Pixel Padding Value mask -> Modality LUT (rescale or LUT sequence) -> VOI (LUT sequence,
else the first window, else the min-max of the real pixels) -> polarity (MONOCHROME1 or
Presentation LUT Shape INVERSE, inverted once, after VOI, over the VOI output range).
The LUT arithmetic itself is pydicom's (``pydicom.pixels``); this module only decides
which step applies and what the output range is.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing

log = logging.getLogger(__name__)


@dataclass
class DisplayInfo:
    """How the stored values were turned into display values."""

    voi: str
    window: tuple[float, float] | None
    n_windows: int
    inverted: bool
    padding_fraction: float
    warnings: list[str]


def padding_mask(stored: np.ndarray, ds: Dataset) -> np.ndarray:
    """Return True where a stored value is Pixel Padding (0028,0120)/(0028,0121).

    Args:
        stored: Stored values as decoded (before any LUT).
        ds: The dataset.

    Returns:
        Boolean mask of padding pixels (all False when no padding is declared).
    """
    value = ds.get("PixelPaddingValue")
    if value is None:
        return np.zeros(stored.shape, dtype=bool)
    limit = ds.get("PixelPaddingRangeLimit")
    if limit is None:
        return stored == value
    lo, hi = sorted((int(value), int(limit)))
    return (stored >= lo) & (stored <= hi)


def _first(value: object) -> float:
    """First value of a possibly multi-valued element."""
    if isinstance(value, (list, tuple)) or hasattr(value, "__getitem__") and not isinstance(value, str):
        return float(value[0])  # type: ignore[index]
    return float(value)  # type: ignore[arg-type]


def _n_values(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return 1
    try:
        return len(value)  # type: ignore[arg-type]
    except TypeError:
        return 1


def _voi_lut_range(ds: Dataset) -> tuple[float, float, str | None]:
    """Output range of the first VOI LUT: 0 .. 2**bits-1 from its descriptor.

    Many writers declare 16 bits for 12-bit tables; then the image would come out nearly
    black, so when the table never uses the upper half of the declared range, the range
    is taken from the table's own bit depth (with a warning).
    """
    item = ds.VOILUTSequence[0]
    depth = int(item.LUTDescriptor[2])
    hi = float(2**depth - 1)
    data = item.LUTData
    try:
        lut_max = float(np.max(np.asarray(data if not isinstance(data, bytes) else np.frombuffer(data, "<u2"))))
    except Exception:  # descriptor is authoritative when the data cannot be inspected
        return 0.0, hi, None
    if 0 < lut_max < 2 ** (depth - 1):
        inferred = float(2 ** int(np.ceil(np.log2(lut_max + 1))) - 1)
        return 0.0, inferred, f"VOI LUT declares {depth} bits but uses {int(np.log2(inferred + 1))}; range taken from the table"
    return 0.0, hi, None


def _window_range(values: np.ndarray, ds: Dataset) -> tuple[float, float]:
    """Output range of pydicom's windowing for this dataset, found by probing it."""
    probe = np.array([-1e30, 1e30], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = apply_windowing(probe, ds, 0)
    lo, hi = float(np.nanmin(out)), float(np.nanmax(out))
    return lo, hi


def _table_domain(stored: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Every value a <=16-bit integer image can hold, and the image as indices into them.

    Running the LUT chain once over the 65,536 possible stored values and then looking
    each pixel up gives exactly the per-pixel result (every step is a function of the
    stored value alone) at a fraction of the cost: a 2048 x 2048 film is 4 M pixels.
    """
    if stored.dtype.kind not in "ui" or stored.dtype.itemsize > 2:
        return None
    unsigned = np.dtype(f"uint{8 * stored.dtype.itemsize}")
    domain = np.arange(2 ** (8 * stored.dtype.itemsize), dtype=unsigned).view(stored.dtype)
    return domain, stored.view(unsigned)


def to_display(stored: np.ndarray, ds: Dataset) -> tuple[np.ndarray, DisplayInfo]:
    """Turn stored pixel values into display values.

    Args:
        stored: 2-D array of stored values as decoded by pydicom.
        ds: The dataset holding the Modality LUT, VOI LUT and Presentation modules.

    Returns:
        ``(pixels, info)``: float32 array in [0, 1] (1 = white) and what was applied.
    """
    notes: list[str] = []
    # no mask at all when the file declares no padding (a 4-megapixel bool array and two
    # passes over it otherwise, for nothing)
    pad = padding_mask(stored, ds) if ds.get("PixelPaddingValue") is not None else None
    table = _table_domain(stored)
    # With a table, the chain below runs on the possible stored values, not the pixels.
    source = table[0] if table is not None else stored
    values = apply_modality_lut(source, ds)
    window: tuple[float, float] | None = None
    n_windows = _n_values(ds.get("WindowCenter"))

    voi_seq = ds.get("VOILUTSequence")
    has_lut = bool(voi_seq) and "LUTDescriptor" in voi_seq[0] and "LUTData" in voi_seq[0]
    has_window = ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None
    if has_lut:
        # VOI LUTs index by integer modality output values.
        lut_input = np.rint(values).astype(np.int64) if values.dtype.kind == "f" else values
        out = apply_voi(lut_input, ds, 0).astype(np.float64)
        lo, hi, note = _voi_lut_range(ds)
        if note:
            notes.append(note)
        voi = "voi-lut-sequence"
    elif has_window:
        with np.errstate(over="ignore"):  # SIGMOID's exp() saturates harmlessly
            out = apply_windowing(values, ds, 0)
        lo, hi = _window_range(values, ds)
        window = (_first(ds.WindowCenter), _first(ds.WindowWidth))
        voi = "window"
        if n_windows > 1:
            notes.append(f"{n_windows} windows in file; the first (center {window[0]:g}, width {window[1]:g}) was used")
    else:
        out = np.asarray(values, dtype=np.float64)
        real = _real_values(out, pad, table[1] if table is not None else None)
        lo, hi = float(real.min()), float(real.max())
        voi = "min-max"
        notes.append("no VOI LUT or window in file; grey levels stretched from min to max")

    span = hi - lo
    if span <= 0:
        pixels = np.zeros(out.shape, dtype=np.float32)
    else:
        pixels = ((np.asarray(out, dtype=np.float64) - lo) / span).astype(np.float32)
    np.clip(pixels, 0.0, 1.0, out=pixels)

    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    # MONOCHROME1 and INVERSE describe the same inversion (the DX IOD requires INVERSE
    # for MONOCHROME1), so invert once when either says so.
    inverted = photometric == "MONOCHROME1" or shape == "INVERSE"
    if inverted:
        pixels = 1.0 - pixels
    if table is not None:
        pixels = np.take(pixels, table[1])
    if pad is not None and pad.any():
        pixels[pad] = 0.0  # padding shows as black, like a reading station
    info = DisplayInfo(
        voi=voi,
        window=window,
        n_windows=n_windows,
        inverted=inverted,
        padding_fraction=float(pad.mean()) if pad is not None else 0.0,
        warnings=notes,
    )
    return pixels, info


def _real_values(out: np.ndarray, pad: np.ndarray | None, indices: np.ndarray | None) -> np.ndarray:
    """Modality values of the non-padding pixels (all pixels when everything is padding).

    ``out`` is per pixel, or (with ``indices``) per possible stored value: then only the
    values that non-padding pixels actually hold count.
    """
    real = pad is not None and bool((~pad).any())
    if indices is None:
        return out[~pad] if real else out
    keep = indices[~pad] if real else indices.ravel()
    return out[np.bincount(keep.ravel(), minlength=out.size) > 0]
