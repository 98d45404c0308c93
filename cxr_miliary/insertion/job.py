"""``cxr-miliary insert``: real negative films in, labelled positives out (images, masks, a manifest).

For every input (files, folders, list files, as ``score`` takes them) and every index
``k < n_per_image``: decode it, find its lung fields with the lung model, check it is a
frontal chest film, add the pattern (:func:`~cxr_miliary.insertion.pattern.insert_pattern`)
with a generator keyed by (seed, input, k), and write ``images/``, ``masks/*_lesion.png``,
``masks/*_lung.png`` (side-coded like the phantoms') and a row of ``manifest.csv``, which
``train``, ``evaluate``, ``prepare`` and ``score`` take as they are. A film that cannot be
used (unreadable, refused, no lung fields) is a row of ``rejected.csv`` with the reason.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from ..atomic import atomic_path
from ..explain import lung_fields
from ..io import ImageError, load_image
from ..io.provenance import png_text
from ..phantom.writer import write_mask
from ..workers import run_jobs
from .pattern import insert_pattern

log = logging.getLogger(__name__)
FORMATS = ("png", "dcm")


def _rng(seed: int, path: str, k: int) -> np.random.Generator:
    key = int.from_bytes(hashlib.sha256(os.fsencode(path)).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([int(seed), key, int(k)]))


def _stem(path: str, k: int) -> str:
    return f"ins_{hashlib.sha1(os.fsencode(path)).hexdigest()[:12]}_{k:02d}"


def _write_png(path: Path, pixels: np.ndarray, bits: int, synthetic: bool) -> None:
    """Display values at the source's own bit depth (8-bit PNG, or its significant bits in a 16-bit PNG); a phantom stays marked as one."""
    top = 2 ** int(min(max(bits, 8), 16)) - 1
    arr = np.round(np.clip(pixels, 0, 1) * top).astype(np.uint8 if top == 255 else np.uint16)
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG", compress_level=1, pnginfo=png_text() if synthetic else None)


def _one(job: tuple[str, Path, int, int, str, str, str, bool]) -> list[dict[str, Any]]:
    """Every insertion of one input (or the one rejection row)."""
    from ..inference.integrity import chest_verdict

    path, out, seed, n, pattern, tier, fmt, force = job
    try:
        rad = load_image(path, force=force)
        fields = lung_fields(rad.pixels)
        chest_verdict(path, rad.pixels, fields, force)
        lungs = fields.full()
        if not lungs.any():
            return [{"source_path": path, "error": "no-lung-fields: the lung fields were not found"}]
    except ImageError as exc:
        return [{"source_path": path, "error": f"{exc.code}: {exc.reason}"}]
    sides = fields.sides_at(rad.shape)
    spacing = rad.meta.pixel_spacing_mm[0] if rad.meta.pixel_spacing_mm else None
    dicom_out = fmt == "dcm" and rad.meta.source_format == "dicom"
    rows = []
    for k in range(n):
        ins = insert_pattern(rad.pixels, lungs, _rng(seed, path, k), pattern=pattern, tier=tier, spacing_mm=spacing)
        stem = _stem(path, k)
        rel = f"images/{stem}.{'dcm' if dicom_out else 'png'}"
        if dicom_out:
            from .dicom import write_inserted_dicom

            write_inserted_dicom(path, out / rel, ins.pixels, ins.pixels != rad.pixels, [str(seed), path, str(k)])
        else:
            _write_png(out / rel, ins.pixels, rad.meta.bits_stored or 16, rad.meta.synthetic)
        write_mask(out / f"masks/{stem}_lesion.png", ins.lesion_mask)
        write_mask(out / f"masks/{stem}_lung.png", lungs, sides if sides is not None else None)
        p = ins.params
        rows.append(
            {
                "path": rel,
                "label": 1,
                "patient_id": f"INS-{hashlib.sha1(os.fsencode(path)).hexdigest()[:12]}",  # one pseudonym per source film: patient-level splits hold
                "pattern": p["pattern"],
                "difficulty": p["tier"],
                "nodule_count": p.get("nodule_count", 0),
                "nodule_size_mm": p.get("nodule_size_mm", 0.0),
                "contrast": p.get("contrast", 0.0),
                "mean_display_change": p["mean_display_change"],
                "pixel_spacing_mm": p["spacing_mm"],
                "spacing_source": p["spacing_source"],
                "lung_mask": f"masks/{stem}_lung.png",
                "lesion_mask": f"masks/{stem}_lesion.png",
                "source": "inserted",
                "synthetic": rad.meta.synthetic,  # the film's own provenance: a real film stays real, a phantom a phantom
                "inserted": True,
                "source_path": path,
                "seed": seed,
                "index": k,
                "error": "",
            }
        )
    return rows


def insert_files(
    inputs: list[str],
    out: str | os.PathLike[str],
    *,
    pattern: str = "miliary",
    tier: str = "moderate",
    n_per_image: int = 1,
    seed: int = 0,
    fmt: str = "png",
    force: bool = False,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    workers: int = 1,
    progress: bool = False,
) -> dict[str, Any]:
    """Insert the pattern into every input ``n_per_image`` times; write the set into ``out``.

    Returns:
        ``{"manifest", "rejected", "written", "refused"}`` (paths and counts).
    """
    from ..data.splits import assign_splits

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    jobs = [(p, out, int(seed), int(n_per_image), pattern, tier, fmt, force) for p in dict.fromkeys(inputs)]
    rows = [r for batch in run_jobs(_one, jobs, workers=workers, desc="insert", progress=progress) for r in batch]
    good = pd.DataFrame([r for r in rows if not r["error"]])
    refused = pd.DataFrame([r for r in rows if r["error"]], columns=["source_path", "error"])
    manifest, rejected = out / "manifest.csv", out / "rejected.csv"
    if not good.empty:
        good["split"] = assign_splits(good, ratios, seed)
        first = ["path", "label", "patient_id", "split"]
        good = good[first + [c for c in good.columns if c not in first]]
    with atomic_path(manifest) as tmp:
        good.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
    with atomic_path(rejected) as tmp:
        refused.to_csv(tmp, index=False)
    log.info("inserted %d films into %s; %d input(s) refused", len(good), out, len(refused))
    return {"manifest": manifest, "rejected": rejected, "written": len(good), "refused": len(refused)}
