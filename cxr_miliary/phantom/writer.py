"""Write phantom sets: 16-bit PNG and/or DICOM images, masks and ``manifest.csv``."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ..io.provenance import PHANTOM_MANUFACTURER, png_text
from ..workers import run_jobs
from .generator import ALL_PATTERNS, FRAMINGS, Phantom, render_phantom

log = logging.getLogger(__name__)

FORMATS = ("png", "dcm")
MANIFEST_COLUMNS = ("path", "label", "pattern", "difficulty", "patient_id", "lung_mask", "lesion_mask", "pixel_spacing_mm")
_DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
_UID_ROOT = "1.2.826.0.1.3680043.10.1599."  # synthetic-data prefix; UIDs derive from (seed, index)


def write_png16(path: Path, stored: np.ndarray) -> None:
    """16-bit greyscale PNG holding the detector's significant bits (like PadChest), marked as a phantom in a text chunk."""
    # noisy data barely compresses; speed wins
    Image.fromarray(stored.astype(np.uint16)).save(path, compress_level=1, pnginfo=png_text())


def write_mask(path: Path, mask: np.ndarray, sides: np.ndarray | None = None) -> None:
    """8-bit PNG mask: 0 outside, 255 inside.

    With ``sides``: 128 for the image-left lung (the patient's right), 255 for the
    image-right lung; ``> 0`` is the whole mask either way.
    """
    out = (mask > 0).astype(np.uint8) * 255
    if sides is not None:
        out[(mask > 0) & (sides == 1)] = 128
    Image.fromarray(out).save(path, compress_level=6)


def write_dicom(path: Path, ph: Phantom, patient_id: str) -> None:
    """A DX / CHEST / PA For Presentation file with synthetic identifiers only.

    Half of the files (decided by the image's seed) are MONOCHROME1, so that the whole
    polarity path of ``load_image`` is exercised.
    """
    seed, index = int(ph.record["seed"]), int(ph.record["index"])
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 7]))
    mono1 = bool(rng.random() < 0.5)
    top = 2**ph.bits - 1
    stored = (top - ph.stored) if mono1 else ph.stored
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = _DX_FOR_PRESENTATION

    def uid(kind: str) -> str:  # deterministic per (seed, index): same seed, same bytes
        return generate_uid(prefix=_UID_ROOT, entropy_srcs=[str(seed), str(index), kind])

    ds.SOPClassUID = _DX_FOR_PRESENTATION
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("sop")
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study"), uid("series")
    ds.PatientName = f"PHANTOM^{patient_id}"
    ds.PatientID = patient_id
    ds.PatientSex = str(ph.record["sex"])
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "DX", "CHEST", "PA"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = PHANTOM_MANUFACTURER  # the file says it is synthetic (cxr_miliary.io.provenance)
    ds.ImageType = ["DERIVED", "SECONDARY"]
    spacing = float(ph.record["pixel_spacing_mm"])
    ds.ImagerPixelSpacing = [spacing, spacing]
    ds.PixelSpacing = [spacing, spacing]
    ds.set_pixel_data(stored.astype(np.uint16), "MONOCHROME1" if mono1 else "MONOCHROME2", ph.bits, generate_instance_uid=False)
    # identity window: LINEAR with c = 2**(b-1), w = 2**b maps x to x / (2**b - 1)
    ds.WindowCenter, ds.WindowWidth = 2 ** (ph.bits - 1), 2**ph.bits
    ds.PresentationLUTShape = "INVERSE" if mono1 else "IDENTITY"
    ds.save_as(path, enforce_file_format=True)
    ph.record["photometric"] = "MONOCHROME1" if mono1 else "MONOCHROME2"


def _job(args: tuple) -> dict[str, object]:
    seed, index, size, out, formats, positive_fraction, patterns, spacing, condition, framing = args
    ph = render_phantom(
        seed, index, size, positive_fraction=positive_fraction, patterns=patterns, pixel_spacing_mm=spacing, condition=condition, framing=framing
    )
    stem = f"ph{seed:04d}_{index:06d}"
    patient_id = f"PH{seed:04d}-{index:06d}"
    row: dict[str, object] = {"patient_id": patient_id, "source": "phantom", "synthetic": True}
    for fmt in formats:
        rel = f"images/{stem}.{fmt}"
        if fmt == "png":
            write_png16(out / rel, ph.stored)
        else:
            write_dicom(out / rel, ph, patient_id)
        row[f"path_{fmt}"] = rel
    row["path"] = row[f"path_{formats[0]}"]
    row["lung_mask"] = f"masks/{stem}_lung.png"
    row["lesion_mask"] = f"masks/{stem}_lesion.png"
    write_mask(out / str(row["lung_mask"]), ph.lung_mask, ph.lung_side)
    write_mask(out / str(row["lesion_mask"]), ph.lesion_mask)
    ph.record.setdefault("photometric", "MONOCHROME2")
    return {**row, **ph.record}


def generate_phantoms(
    n: int,
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    size: int | str = 1024,
    formats: tuple[str, ...] = ("png",),
    positive_fraction: float = 0.5,
    patterns: tuple[str, ...] = ALL_PATTERNS,
    pixel_spacing_mm: float | None = None,
    workers: int = 1,
    start: int = 0,
    progress: bool = False,
    condition: str | None = None,
    framing: str = "phantom",
) -> Path:
    """Generate a phantom set with ground truth.

    Args:
        n: Number of images.
        out: Output folder (``images/``, ``masks/``, ``manifest.csv`` are written in it).
        seed: Set seed; the same seed gives byte-identical files.
        size: Image side in pixels, ``"detector"`` (each film at a CR/DX detector's size and
            spacing) or ``"mix"`` (see :func:`~cxr_miliary.phantom.generator.geometry`).
        formats: ``("png",)``, ``("dcm",)`` or both; the first is the manifest's ``path``.
        positive_fraction: Probability that an image is a positive pattern.
        patterns: Patterns to draw from.
        pixel_spacing_mm: Physical pixel size (default: 0.35 mm scaled from 1024 px).
        workers: Worker processes; the result is identical to a serial run.
        start: First image index (to extend a set).
        progress: Show a progress bar on stderr.
        condition: Real films' conditions (opacified lungs, AP films, devices: see
            :mod:`~cxr_miliary.phantom.conditions`; ``lung-mix`` for the lung model's mix).
        framing: How the chest sits in the frame (:data:`~cxr_miliary.phantom.patterns.FRAMINGS`:
            ``tight`` as real films are collimated, the lung box 75-87 % of the film).

    Returns:
        The path of ``manifest.csv``.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown format {bad or formats}; choose from {', '.join(FORMATS)}")
    unknown = [p for p in patterns if p not in ALL_PATTERNS]
    if unknown or not patterns:
        raise ValueError(f"unknown pattern(s) {unknown}; choose from {', '.join(ALL_PATTERNS)}")
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError("positive fraction must be between 0 and 1")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    if condition is not None:
        from .conditions import CONDITIONS, MIXES

        if condition not in CONDITIONS + MIXES:
            raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS + MIXES)}")
        from .conditions import REAL_LUNGS
        from .real_shapes import archive_path

        if condition in REAL_LUNGS and archive_path() is None:  # one clear error, not one per film in the workers
            raise ValueError(
                f"the {condition} condition needs TorchXRayVision's lung masks (pip install 'cxr-miliary[txv]', or $CXR_MILIARY_LUNG_MASKS naming the archive)"
            )
    if framing not in FRAMINGS:
        raise ValueError(f"unknown framing {framing!r}; choose from {', '.join(FRAMINGS)}")
    jobs = [
        (seed, i, size, out, tuple(formats), positive_fraction, tuple(patterns), pixel_spacing_mm, condition, framing)
        for i in range(start, start + n)
    ]
    rows = run_jobs(_job, jobs, workers=workers, desc="phantoms", progress=progress)
    manifest = out / "manifest.csv"
    # every row's fields, in the order first seen: a field only some films have (``opacified``
    # on the half of the low-volume films with both lungs white) may be missing from the first
    columns = list(dict.fromkeys([*MANIFEST_COLUMNS, *(k for row in rows for k in row)]))
    with open(manifest, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    log.info("wrote %d phantoms to %s", n, out)
    return manifest
