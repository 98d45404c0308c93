"""``cxr-miliary insert``: real negative films in, labelled positives out (images, masks, a manifest).

For every input (files, folders, list files, as ``score`` takes them) and every index
``k < n_per_image``: decode it, find its lung fields with the lung model, check it is a
frontal chest film, add the pattern (:func:`~cxr_miliary.phantom.insertion.insert_pattern`)
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
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from ..atomic import atomic_path
from ..io import ImageError, load_image
from ..io.files import sha256_file as content_digest  # a film is keyed by what it is, not by its name
from ..io.provenance import png_text
from ..phantom.insertion import insert_pattern
from ..phantom.writer import write_mask
from ..workers import run_jobs

log = logging.getLogger(__name__)
#: Output formats: ``auto`` (DICOM for DICOM inputs, PNG for the rest), ``png``, ``dcm``.
FORMATS = ("auto", "png", "dcm")


#: Insertions per film at most (each is its own draw; more is the same film again and again).
MAX_PER_IMAGE = 100
#: The manifest is rewritten from the journal at least this often while a run goes on (seconds).
MANIFEST_EVERY_S = 60.0
#: Sources handed to the workers at a time (rows are journaled after each chunk).
CHUNK = 32
JOURNAL = ".insert-journal.jsonl"
KEY_FILE = ".insert-key"
#: The manifest's columns (written even when no film could be used).
COLUMNS = [
    "path", "label", "patient_id", "split", "pattern", "difficulty", "nodule_count", "nodule_size_mm", "contrast",
    "mean_display_change", "pixel_spacing_mm", "spacing_source", "lung_mask", "lesion_mask", "source", "synthetic",
    "inserted", "source_path", "seed", "index", "error",
]  # fmt: skip


def _rng(seed: int, digest: str, k: int) -> np.random.Generator:
    key = int.from_bytes(bytes.fromhex(digest)[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([int(seed), key, int(k)]))


def _stem(path: str, k: int) -> str:
    return f"ins_{hashlib.sha1(os.fsencode(path)).hexdigest()[:12]}_{k:02d}"


def _secret(out: Path) -> bytes:
    """This output folder's key for pseudonyms (made once, kept private): a PatientID's pseudonym cannot be reversed by hashing guesses."""
    path = out / KEY_FILE
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_bytes(os.urandom(32))
            os.chmod(tmp, 0o600)
        os.chmod(path, 0o600)
    return path.read_bytes()


def _patient_of(path: str, digest: str, secret: bytes) -> str:
    """A pseudonym shared by every film of one patient: keyed by the DICOM's PatientID (and issuer) where it has one, else by the film's content."""
    import hmac

    from ..io.dicom import read_dataset

    basis = f"film:{digest}"
    try:
        ds = read_dataset(path)
        pid = str(ds.get("PatientID", "") or "").strip()
        if pid:
            basis = f"patient:{str(ds.get('IssuerOfPatientID', '') or '').strip()}^{pid}"
    except Exception:  # not DICOM (or no header to read): the film is its own patient
        pass
    return "INS-" + hmac.new(secret, basis.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def _write_png(path: Path, pixels: np.ndarray, raster_bits: int | None, synthetic: bool) -> None:
    """Display values as a PNG that ``load_image`` reads back as they are, outside the lungs included.

    A deep raster (``raster_bits`` > 8: a 16-bit PNG source) is read with its grey levels
    stretched from min to max; its display already spans 0-1, so the inserted copy, written
    at the source's significant bits, reads back the same. Anything else (a DICOM, whose
    window leaves its display anywhere in 0-1; an 8-bit raster) is written as 8-bit display
    values, which are read as they are (within one 8-bit grey level). A phantom stays marked as one.
    """
    top = 2 ** int(min(raster_bits, 16)) - 1 if raster_bits and raster_bits > 8 else 255
    arr = np.round(np.clip(pixels, 0, 1) * top).astype(np.uint8 if top == 255 else np.uint16)
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG", compress_level=1, pnginfo=png_text() if synthetic else None)


def _one(job: tuple[str, str, str, Path, int, int, str, str, str, bool]) -> list[dict[str, Any]]:
    """Every insertion of one input (or the one rejection row)."""
    from ..inference.decoding import decode
    from ..phantom.insertion import spacing_for
    from ..phantom.lesions import TIERS

    path, digest, patient, out, seed, n, pattern, tier, fmt, force = job
    try:
        rad = load_image(path, force=force)
        used, _ = spacing_for(rad.shape, rad.meta.pixel_spacing_mm[0] if rad.meta.pixel_spacing_mm else None)
        smallest = TIERS[tier]["diameter"][0]
        if used > smallest:  # the smallest nodule of the tier would be under one pixel: nothing a reader or a network could see
            return [
                {"source_path": path, "error": f"too-small: at {used:.2f} mm per pixel the {tier} tier's {smallest:g} mm nodules are under one pixel"}
            ]
        fields = decode(rad, None, force=force, raise_errors=True).lungs  # the film's checks and lung fields, as score reads it
        assert fields is not None
        lungs = fields.full()
        if not lungs.any():
            return [{"source_path": path, "error": "no-lung-fields: the lung fields were not found"}]
    except ImageError as exc:
        return [{"source_path": path, "error": f"{exc.code}: {exc.reason}"}]
    sides = fields.sides_at(rad.shape)
    spacing = rad.meta.pixel_spacing_mm[0] if rad.meta.pixel_spacing_mm else None
    used, _ = spacing_for(rad.shape, spacing)
    smallest = TIERS[tier]["diameter"][0]
    if used > smallest:  # the smallest nodule of the tier would be under one pixel: nothing a reader or a network could see
        return [
            {"source_path": path, "error": f"too-small: at {used:.2f} mm per pixel the {tier} tier's {smallest:g} mm nodules are under one pixel"}
        ]
    dicom_out = fmt in ("auto", "dcm") and rad.meta.source_format == "dicom"  # the source's own pixel format: nothing outside the lungs moves
    rows = []
    for k in range(n):
        ins = insert_pattern(rad.pixels, lungs, _rng(seed, digest, k), pattern=pattern, tier=tier, spacing_mm=spacing)
        stem = _stem(path, k)
        rel = f"images/{stem}.{'dcm' if dicom_out else 'png'}"
        if dicom_out:
            from .dicom import write_inserted_dicom

            write_inserted_dicom(path, out / rel, ins.pixels, ins.pixels != rad.pixels, [str(seed), path, str(k)])
        else:
            raster_bits = rad.meta.bits_stored if rad.meta.source_format != "dicom" else None
            _write_png(out / rel, ins.pixels, raster_bits, rad.meta.synthetic)
        write_mask(out / f"masks/{stem}_lesion.png", ins.lesion_mask)
        write_mask(out / f"masks/{stem}_lung.png", lungs, sides if sides is not None else None)
        p = ins.params
        rows.append(
            {
                "path": rel,
                "label": 1,
                "patient_id": patient,  # one pseudonym per patient (or film): patient-level splits hold
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


def _sweep(out: Path, keep: set[str]) -> int:
    """Remove temporaries and films or masks no journal row names (left by a killed run); how many."""
    n = 0
    for folder in (out / "images", out / "masks"):
        for p in folder.iterdir():
            rel = f"{folder.name}/{p.name}"
            if p.is_file() and (p.name.startswith(".") or rel not in keep):
                p.unlink(missing_ok=True)
                n += 1
    return n


def _write_tables(out: Path, rows: list[dict[str, Any]], ratios: tuple[float, float, float], seed: int) -> tuple[Path, Path, int, int]:
    """manifest.csv (splits assigned over every row, so a resumed run gives the same set) and rejected.csv, both with headers."""
    from ..data.splits import assign_splits

    good = pd.DataFrame([r for r in rows if not r["error"]], columns=[c for c in COLUMNS if c != "split"])
    refused = pd.DataFrame([r for r in rows if r["error"]], columns=["source_path", "error"])
    if not good.empty:
        good["split"] = assign_splits(good, ratios, seed)
    good = good.reindex(columns=COLUMNS)
    manifest, rejected = out / "manifest.csv", out / "rejected.csv"
    with atomic_path(manifest) as tmp:
        good.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
    with atomic_path(rejected) as tmp:
        refused.to_csv(tmp, index=False)
    return manifest, rejected, len(good), len(refused)


def insert_files(
    inputs: list[str],
    out: str | os.PathLike[str],
    *,
    pattern: str = "miliary",
    tier: str = "moderate",
    n_per_image: int = 1,
    seed: int = 0,
    fmt: str = "auto",
    force: bool = False,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    workers: int = 1,
    progress: bool = False,
) -> dict[str, Any]:
    """Insert the pattern into every input ``n_per_image`` times; write the set into ``out``.

    Returns:
        ``{"manifest", "rejected", "written", "refused"}`` (paths and counts).
    """
    from ..scoring.journal import append_rows, cut_torn_line
    from ..scoring.table import read_jsonl

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if not 1 <= int(n_per_image) <= MAX_PER_IMAGE:
        raise ValueError(f"n_per_image must be 1 to {MAX_PER_IMAGE}")
    if int(seed) < 0:
        raise ValueError("seed must be 0 or more")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    secret = _secret(out)
    # one film, one key: links and copies of a film are inserted once (else 1,000 links to one
    # film would be 1,000 "patients" spread over train, val and test)
    rows: list[dict[str, Any]] = []
    first: dict[str, str] = {}
    sources: list[tuple[str, str]] = []
    for p in dict.fromkeys(inputs):
        try:
            digest = content_digest(p)
        except OSError as exc:
            rows.append({"source_path": p, "error": f"unreadable: {os.strerror(exc.errno) if exc.errno else type(exc).__name__}"})
            continue
        if digest in first:
            rows.append({"source_path": p, "error": f"duplicate: the same content as {first[digest]} (a link or a copy), inserted once"})
            continue
        first[digest] = p
        sources.append((p, digest))
    duplicates = sum(r["error"].startswith("duplicate") for r in rows)
    if duplicates:
        log.warning("%d input(s) were links or copies of an earlier input; each film is inserted once", duplicates)
    # the journal: a killed run resumes where it stopped with the same settings, starts afresh with others
    settings = {"settings": {"seed": int(seed), "n": int(n_per_image), "pattern": pattern, "tier": tier, "fmt": fmt, "force": bool(force)}}
    journal = out / JOURNAL
    old = list(read_jsonl(journal))
    done: dict[str, list[dict[str, Any]]] = {}
    if old and old[0] == settings:
        for r in old[1:]:
            done.setdefault(str(r.get("digest")), []).append(r)
    else:
        journal.unlink(missing_ok=True)
    swept = _sweep(out, {str(x) for rs in done.values() for r in rs for x in (r.get("path"), r.get("lung_mask"), r.get("lesion_mask")) if x})
    if swept:
        log.info("removed %d file(s) a killed or earlier run left in %s", swept, out)
    jobs = [(p, d, _patient_of(p, d, secret), out, int(seed), int(n_per_image), pattern, tier, fmt, force) for p, d in sources if d not in done]
    with open(journal, "a+b") as fh:
        cut_torn_line(fh)
        if not old or old[0] != settings:
            append_rows(fh, [settings], journal)
        last = time.monotonic()
        for start in range(0, len(jobs), CHUNK):
            chunk = jobs[start : start + CHUNK]
            results = run_jobs(_one, chunk, workers=workers, desc="insert", progress=progress)
            append_rows(fh, [{**r, "digest": job[1]} for job, batch in zip(chunk, results, strict=True) for r in batch], journal)
            for job, batch in zip(chunk, results, strict=True):
                done[job[1]] = batch
            if time.monotonic() - last > MANIFEST_EVERY_S:  # a killed run still leaves a manifest of what it finished
                _write_tables(out, rows + [r for _, d in sources if d in done for r in done[d]], ratios, seed)
                last = time.monotonic()
    rows += [{k: v for k, v in r.items() if k != "digest"} for _, d in sources for r in done.get(d, [])]
    manifest, rejected, written, refused = _write_tables(out, rows, ratios, seed)
    log.info("inserted %d films into %s; %d input(s) refused", written, out, refused)
    return {"manifest": manifest, "rejected": rejected, "written": written, "refused": refused}
