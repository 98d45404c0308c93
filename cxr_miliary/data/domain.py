"""A training set's domain: synthetic phantoms, real films, or both (recorded in every bundle's card).

A model that has only seen phantoms must never be taken at face value on a real film
(:mod:`cxr_miliary.inference.integrity`), so the bundle says what it was trained on. The
manifest decides, row by row: a ``synthetic`` column when the rows carry one (any table
may say so); else the ``source`` column the manifest builders write (``phantom`` is
synthetic; ``padchest``, ``nih``, ``csv``, ``folder`` and films with inserted lesions are
real); else a phantom set's own manifest (its lesion masks and seeds); else real.
"""

from __future__ import annotations

import pandas as pd

#: ``source`` values whose images are synthetic.
SYNTHETIC_SOURCES = ("phantom",)
_TRUE = {"1", "true", "yes", "y", "t"}


def synthetic_rows(df: pd.DataFrame) -> pd.Series:
    """Per row: is this image synthetic?"""
    if "synthetic" in df.columns:
        return df["synthetic"].map(lambda v: str(v).strip().lower() in _TRUE)
    if "source" in df.columns:
        return df["source"].astype(str).str.strip().str.lower().isin(SYNTHETIC_SOURCES)
    phantom_manifest = {"lesion_mask", "lung_mask", "seed", "index", "pattern"} <= set(df.columns)
    return pd.Series(phantom_manifest, index=df.index)


def training_domain(df: pd.DataFrame) -> dict[str, object]:
    """``{"domain": "synthetic" | "real" | "mixed", "sources": [...]}`` of a manifest's rows."""
    synthetic = synthetic_rows(df)
    n_syn, n = int(synthetic.sum()), len(df)
    domain = "synthetic" if n and n_syn == n else "real" if n_syn == 0 else "mixed"
    if "source" in df.columns:
        sources = sorted({str(s).strip() for s in df["source"].dropna()})
    else:
        sources = ["phantom"] if domain == "synthetic" else ["unspecified"]
    return {"domain": domain, "sources": sources, "synthetic_images": n_syn, "real_images": n - n_syn}
