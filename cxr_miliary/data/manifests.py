"""Training manifests from the published label tables: PadChest, NIH ChestX-ray14, local CSV, folders.

Every manifest has ``path,label,patient_id,split`` and keeps the useful source columns
(view, sex, age, manufacturer, label method ...) for subgroup analysis. Builders return
the manifest and a :class:`BuildReport` saying what was dropped and why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .labels import DEFAULT_POSITIVE_TERMS, is_positive, normalise_term, parse_label_list
from .splits import assign_splits

log = logging.getLogger(__name__)

#: PadChest projections that are frontal views.
PADCHEST_FRONTAL = ("PA", "AP", "AP_horizontal")
_PADCHEST_COLS = [
    "ImageID",
    "ImageDir",
    "PatientID",
    "Projection",
    "Labels",
    "MethodLabel",
    "PatientSex_DICOM",
    "PatientBirth",
    "StudyDate_DICOM",
    "Manufacturer_DICOM",
    "ViewPosition_DICOM",
    "Modality_DICOM",
    "Pediatric",
    "BitsStored_DICOM",
]
IMAGE_SUFFIXES = (".png", ".dcm", ".dicom", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass
class BuildReport:
    """Counts of what a manifest builder kept and dropped, with reasons."""

    source_rows: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    missing_examples: list[str] = field(default_factory=list)

    def drop(self, reason: str, n: int) -> None:
        """Record ``n`` rows dropped for ``reason``."""
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)


def _check_files(df: pd.DataFrame, root: Path | None, report: BuildReport) -> pd.DataFrame:
    """With an images root: count, list (first few) and exclude rows whose file is missing."""
    if root is None:
        return df
    exists = np.fromiter((os.path.isfile(root / p) for p in df["path"]), dtype=bool, count=len(df))
    missing = df.loc[~exists, "path"]
    report.missing_examples = missing.head(5).tolist()
    report.drop("file missing under images root", len(missing))
    return df.loc[exists]


def _finish(df: pd.DataFrame, ratios: tuple[float, float, float], seed: int, split_col: str | None, source: str) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    if "source" not in df.columns:  # where each row comes from: the bundle's training domain is read from it
        df["source"] = source
    df["label"] = df["label"].astype(int)
    df["patient_id"] = df["patient_id"].astype(str)
    if split_col and split_col in df.columns:
        df["split"] = df[split_col].astype(str).str.strip().str.lower().replace({"valid": "val", "validation": "val"})
    else:
        df["split"] = assign_splits(df, ratios, seed)
    first = ["path", "label", "patient_id", "split"]
    return df[first + [c for c in df.columns if c not in first]]


def padchest_manifest(
    labels_csv: str | os.PathLike[str],
    *,
    images_root: str | os.PathLike[str] | None = None,
    positive_terms: Iterable[str] = DEFAULT_POSITIVE_TERMS,
    views: Iterable[str] = PADCHEST_FRONTAL,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[pd.DataFrame, BuildReport]:
    """Manifest from PadChest's published label table (``.csv`` or ``.csv.gz``).

    Args:
        labels_csv: ``PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv[.gz]``.
        images_root: Folder holding ``ImageDir/ImageID``; missing files are excluded.
        positive_terms: Exact label terms that make an image positive.
        views: Projections to keep (frontal by default).
        ratios: Split ratios (train, val, test).
        seed: Split seed.
    """
    report = BuildReport()
    header = pd.read_csv(labels_csv, nrows=0).columns
    usecols = [c for c in _PADCHEST_COLS if c in header]
    missing = {"ImageID", "ImageDir", "PatientID", "Projection", "Labels"} - set(usecols)
    if missing:
        raise ValueError(f"{labels_csv}: not a PadChest label table (missing columns {sorted(missing)})")
    raw = pd.read_csv(labels_csv, usecols=usecols, dtype=str, keep_default_na=True, low_memory=False)
    report.source_rows = len(raw)
    terms = raw["Labels"].map(parse_label_list)
    report.drop("no parseable labels", int(terms.isna().sum()))
    raw, terms = raw.loc[terms.notna()], terms.loc[terms.notna()]
    view_set = {v.strip() for v in views}
    frontal = raw["Projection"].fillna("").str.strip().isin(view_set)
    report.drop(f"view not in {sorted(view_set)}", int((~frontal).sum()))
    raw, terms = raw.loc[frontal], terms.loc[frontal]
    pos = tuple(positive_terms)
    df = pd.DataFrame(
        {
            "path": raw["ImageDir"].astype(str).str.strip() + "/" + raw["ImageID"].astype(str).str.strip(),
            "label": terms.map(lambda t: is_positive(t, pos)).astype(int),
            "patient_id": raw["PatientID"].astype(str).str.strip(),
            "view": raw["Projection"].str.strip(),
            "sex": raw.get("PatientSex_DICOM"),
            "age": _age(raw),
            "manufacturer": raw.get("Manufacturer_DICOM"),
            "label_method": raw.get("MethodLabel"),
            "pediatric": raw.get("Pediatric"),
            "findings": terms.map(lambda t: "|".join(t)),
        }
    )
    df = _check_files(df, Path(images_root) if images_root else None, report)
    return _finish(df, ratios, seed, None, "padchest"), report


def _age(raw: pd.DataFrame) -> pd.Series:
    """Age in years at the study: study year minus birth year (PadChest gives only the year)."""
    if "PatientBirth" not in raw or "StudyDate_DICOM" not in raw:
        return pd.Series(np.nan, index=raw.index)
    birth = pd.to_numeric(raw["PatientBirth"], errors="coerce")
    study = pd.to_numeric(raw["StudyDate_DICOM"].str[:4], errors="coerce")
    return study - birth


def nih_manifest(
    labels_csv: str | os.PathLike[str],
    *,
    positive_labels: Iterable[str],
    images_root: str | os.PathLike[str] | None = None,
    views: Iterable[str] = ("PA", "AP"),
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[pd.DataFrame, BuildReport]:
    """Manifest from NIH ChestX-ray14's ``Data_Entry_2017.csv`` with a user-chosen proxy label.

    ChestX-ray14 has no miliary label: positives are the images carrying any of
    ``positive_labels`` (e.g. ``Nodule``, ``Infiltration``) — a proxy or pre-training
    task, not the target pattern. With ``images_root``, the ``images_*/images/``
    sub-folders of the official release are found by walking the root.
    """
    report = BuildReport()
    raw = pd.read_csv(labels_csv, dtype=str)
    need = {"Image Index", "Finding Labels", "Patient ID", "View Position"}
    if need - set(raw.columns):
        raise ValueError(f"{labels_csv}: not an NIH Data_Entry table (missing columns {sorted(need - set(raw.columns))})")
    report.source_rows = len(raw)
    wanted = {normalise_term(p) for p in positive_labels}
    if not wanted:
        raise ValueError("give at least one NIH finding as the positive label (e.g. Nodule)")
    findings = raw["Finding Labels"].fillna("").map(lambda s: [normalise_term(x) for x in s.split("|") if x.strip()])
    keep = raw["View Position"].str.strip().isin(set(views))
    report.drop(f"view not in {sorted(set(views))}", int((~keep).sum()))
    raw, findings = raw.loc[keep], findings.loc[keep]
    paths = raw["Image Index"].str.strip()
    if images_root:
        index = {f: os.path.relpath(os.path.join(d, f), images_root) for d, _, files in os.walk(images_root) for f in files}
        paths = paths.map(lambda n: index.get(n, n))
    df = pd.DataFrame(
        {
            "path": paths,
            "label": findings.map(lambda t: int(any(x in wanted for x in t))),
            "patient_id": raw["Patient ID"].str.strip(),
            "view": raw["View Position"].str.strip(),
            "sex": raw.get("Patient Gender"),
            "age": pd.to_numeric(raw.get("Patient Age"), errors="coerce"),
            "findings": findings.map("|".join),
        }
    )
    df = _check_files(df, Path(images_root) if images_root else None, report)
    return _finish(df, ratios, seed, None, "nih"), report


def csv_manifest(
    table: str | os.PathLike[str],
    *,
    path_col: str,
    label_col: str,
    patient_col: str | None = None,
    split_col: str | None = None,
    images_root: str | os.PathLike[str] | None = None,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[pd.DataFrame, BuildReport]:
    """Manifest from a local table with a path and a 0/1 label column (patient optional).

    Without a patient column each image is its own patient (say so in your methods: a
    patient with several images could then leak across splits).
    """
    report = BuildReport()
    raw = pd.read_csv(table, dtype=str)
    for col in (path_col, label_col, patient_col, split_col):
        if col and col not in raw.columns:
            raise ValueError(f"{table}: no column {col!r} (columns: {', '.join(raw.columns)})")
    report.source_rows = len(raw)
    label = pd.to_numeric(raw[label_col].str.strip().str.lower().replace({"true": "1", "false": "0", "yes": "1", "no": "0"}), errors="coerce")
    ok = label.isin([0, 1])
    report.drop("label not 0/1", int((~ok).sum()))
    raw = raw.loc[ok].copy()
    raw["label"] = label.loc[ok].astype(int)
    raw["path"] = raw[path_col].str.strip()
    raw["patient_id"] = raw[patient_col].str.strip() if patient_col else raw["path"]
    if split_col:
        raw = raw.rename(columns={split_col: "_split"})
    extras = [c for c in raw.columns if c not in (path_col, label_col, patient_col, "path", "label", "patient_id", "_split")]
    df = raw[["path", "label", "patient_id"] + (["_split"] if split_col else []) + extras]
    df = _check_files(df, Path(images_root) if images_root else None, report)
    return _finish(df, ratios, seed, "_split" if split_col else None, "csv").drop(columns=["_split"], errors="ignore"), report


def folder_manifest(
    root: str | os.PathLike[str],
    *,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[pd.DataFrame, BuildReport]:
    """Manifest from ``root/positive/...`` and ``root/negative/...`` (each image its own patient)."""
    root = Path(root)
    rows = []
    for sub, label in (("positive", 1), ("negative", 0)):
        folder = root / sub
        if not folder.is_dir():
            raise ValueError(f"{root}: expected sub-folders 'positive' and 'negative'")
        for p in sorted(folder.rglob("*")):
            if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or not p.suffix):
                rel = p.relative_to(root).as_posix()
                rows.append({"path": rel, "label": label, "patient_id": rel})
    report = BuildReport(source_rows=len(rows))
    if not rows:
        raise ValueError(f"{root}: no images found under positive/ and negative/")
    return _finish(pd.DataFrame(rows), ratios, seed, None, "folder"), report
