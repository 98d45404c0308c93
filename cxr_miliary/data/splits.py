"""Patient-level, label-stratified, deterministic train/val/test splits."""

from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


def assign_splits(
    df: pd.DataFrame,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    patient_col: str = "patient_id",
    label_col: str = "label",
) -> pd.Series:
    """Assign every row a split so that no patient appears in two splits.

    Patients are stratified by their label (positive if any of their images is), shuffled
    with ``seed`` and cut by ``ratios`` within each stratum, so rare positives are spread
    over all splits in proportion.

    Args:
        df: Rows with a patient and a label column.
        ratios: train, val, test fractions (normalised to sum 1).
        seed: Shuffle seed; the same inputs and seed give the same split.
        patient_col: Patient identifier column.
        label_col: 0/1 label column.

    Returns:
        A Series of ``"train"``/``"val"``/``"test"`` aligned with ``df``.
    """
    r = np.asarray(ratios, dtype=float)
    if r.shape != (3,) or (r < 0).any() or r.sum() <= 0:
        raise ValueError("ratios must be three non-negative numbers")
    r = r / r.sum()
    patients = df.groupby(patient_col, sort=True)[label_col].max()
    rng = np.random.default_rng(seed)
    split_of: dict[object, str] = {}
    for _, group in patients.groupby(patients):
        ids = np.array(group.index.tolist(), dtype=object)
        ids = ids[rng.permutation(len(ids))]
        n = len(ids)
        n_train = int(round(r[0] * n))
        n_val = int(round(r[1] * n))
        if r[1] > 0 and n >= 3 and n_val == 0:
            n_val = 1  # a few positives should still reach validation
        if r[2] > 0 and n >= 3 and n - n_train - n_val <= 0:
            n_train = max(n - n_val - 1, 0)
        for k, pid in enumerate(ids):
            split_of[pid] = "train" if k < n_train else "val" if k < n_train + n_val else "test"
    return df[patient_col].map(split_of).astype(str)


def assign_folds(df: pd.DataFrame, k: int, seed: int = 0, patient_col: str = "patient_id", label_col: str = "label") -> pd.Series:
    """Patient-level, label-stratified folds ``0..k-1`` (every patient in one fold; a rare class spread over all of them).

    Patients are stratified by their label (positive if any image is), shuffled with
    ``seed`` and dealt round-robin within each stratum, so each fold gets positives in
    proportion (a fold without positives cannot be validated).

    Raises:
        ValueError: ``k`` < 2, or fewer positive patients than folds.
    """
    if k < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    patients = df.groupby(patient_col, sort=True)[label_col].max()
    if 0 < int((patients > 0).sum()) < k:
        raise ValueError(f"{int((patients > 0).sum())} positive patients cannot fill {k} folds")
    rng = np.random.default_rng(seed)
    fold_of: dict[object, int] = {}
    offset = 0
    for _, group in patients.groupby(patients):
        ids = np.array(group.index.tolist(), dtype=object)[rng.permutation(len(group))]
        for i, pid in enumerate(ids):
            fold_of[pid] = (i + offset) % k
        offset += len(ids)  # the next stratum starts where this one stopped: fold sizes stay even
    return df[patient_col].map(fold_of).astype(int)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Images, patients and positives per split."""
    g = df.groupby("split")
    out = pd.DataFrame({"images": g.size(), "patients": g["patient_id"].nunique(), "positives": g["label"].sum()})
    return out.reindex([s for s in SPLITS if s in out.index] + [s for s in out.index if s not in SPLITS])
