"""The shortcut audit: can the label be told from what is *not* the pattern?

Models trained on pooled archives learn the hospital, the device, the projection or a
marker instead of the finding (DeGrave, Janizek & Lee, Nat Mach Intell 2021; Zech et al.,
PLoS Med 2018). ``cxr-miliary audit --manifest M`` asks three questions, each with a small,
cross-validated classifier (patient-level folds, an AUROC with a bootstrap CI):

- **outside the lungs**: the films with the lung fields blanked out (dilated by a margin,
  filled with mid-grey), reduced to a thumbnail - can the label be predicted from them?
- **header metadata**: the manifest's manufacturer, view, sex, age, year, source;
- **inserted positives**: for ``insert`` output, can inserted positives be told from
  native negatives outside the lungs? (they should differ only inside them).

A question is *flagged* when its AUROC is at least :data:`FLAG_AUROC` and its CI lies
above 0.5: a network may learn that instead of the pattern. Each answer is a sentence and
a figure, not only a number.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import auroc

log = logging.getLogger(__name__)

#: An AUROC this high, with a CI above 0.5, flags a shortcut (chosen on the decision sets named in the README).
FLAG_AUROC = 0.70
#: The lung fields are blanked with this margin (share of the image's longest side): their edges carry the pattern too.
MARGIN = 0.03
#: The classifier: a random forest (a marker is one strong, local feature; a linear model on ~900 features missed a
#: tenth of them). Chosen on the decision set (seed 5101, 120 phantoms at 384 px, markers at three places):
#: markers 0.99-1.00 against 0.85-0.92 for logistic regression, clean films 0.48-0.49.
TREES = 400
#: Cells a side of the max-pooled thumbnail.
GRID = 24
#: Thumbnail side the outside-the-lungs classifier sees.
THUMB = 24
#: Metadata the manifest may carry that can stand in for the label.
METADATA = ("manufacturer", "view", "projection", "sex", "age", "year")


def outside_lungs(pixels: np.ndarray, lungs: np.ndarray, size: int = THUMB) -> np.ndarray:
    """Features of a film with its lung fields blanked: an averaged and a max-pooled thumbnail, and a histogram of what is left.

    The max-pooled one keeps what averaging dilutes: a marker, a letter, a device - small and bright.
    """
    import cv2

    margin = max(1, int(MARGIN * max(pixels.shape)))
    grown = cv2.dilate(lungs.astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0
    blank = np.where(grown, 0.5, pixels).astype(np.float32)
    thumb = cv2.resize(blank, (size, size), interpolation=cv2.INTER_AREA).ravel()
    h, w = blank.shape
    cells = blank[: h - h % GRID, : w - w % GRID].reshape(GRID, (h - h % GRID) // GRID, GRID, (w - w % GRID) // GRID)
    peaks = cells.max(axis=(1, 3)).ravel()
    hist, _ = np.histogram(pixels[~grown], bins=16, range=(0.0, 1.0))
    return np.concatenate([thumb, peaks, hist / max(1, int((~grown).sum()))]).astype(np.float32)


def _cv_auroc(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, seed: int, n_boot: int) -> dict[str, Any]:
    """Out-of-fold AUROC of a random forest, patient-grouped folds, with a bootstrap CI."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedGroupKFold

    k = int(min(folds, np.bincount(y).min())) if len(np.unique(y)) == 2 else 0
    if k < 2:
        return {"auroc": None, "ci_low": None, "ci_high": None, "n": int(len(y)), "why": "too few images of one class"}
    oof = np.zeros(len(y))
    for train, test in StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(x, y, groups):
        clf = RandomForestClassifier(TREES, min_samples_leaf=2, random_state=seed, n_jobs=1)
        clf.fit(x[train], y[train])
        oof[test] = clf.predict_proba(x[test])[:, 1]
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if len(np.unique(y[i])) == 2:
            boots.append(auroc(oof[i], y[i]))
    a = auroc(oof, y)
    lo, hi = (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))) if boots else (None, None)
    return {"auroc": a, "ci_low": lo, "ci_high": hi, "n": int(len(y)), "positives": int(y.sum())}


def _verdict(name: str, what: str, res: dict[str, Any]) -> dict[str, Any]:
    a, lo, hi = res.get("auroc"), res.get("ci_low"), res.get("ci_high")
    if a is None:
        return {**res, "flagged": False, "sentence": f"{what}: not measured ({res.get('why', 'no data')})."}
    flagged = bool(a >= FLAG_AUROC and lo is not None and lo > 0.5)
    figures = f"AUROC {a:.2f} (95% CI {lo:.2f}-{hi:.2f}, {res['n']} images)"
    if flagged:
        sentence = f"SHORTCUT: {what} predicts the label ({figures}); a network can learn this instead of the pattern."
    else:
        sentence = f"No shortcut found: {what} does not predict the label ({figures})."
    return {**res, "flagged": flagged, "sentence": sentence, "question": name}


def _metadata_features(df: pd.DataFrame) -> tuple[np.ndarray | None, list[str]]:
    """One-hot or numeric metadata, and the columns used.

    A column filled for one class and empty for the other (how a manifest was put
    together, not what the films show) is left out.
    """

    def usable(c: str) -> bool:
        present = df[c].astype(str).str.strip().replace({"nan": "", "None": ""}) != ""
        rates = present.groupby(df["label"]).mean()
        return bool(present.any() and df.loc[present, c].astype(str).nunique() > 1 and rates.max() - rates.min() <= 0.2)

    cols = [c for c in METADATA if c in df.columns and usable(c)]
    if not cols:
        return None, []
    parts = []
    for c in cols:
        values = pd.to_numeric(df[c], errors="coerce")
        if values.notna().mean() > 0.9:  # a number (age, year)
            parts.append(values.fillna(values.median()).to_frame(c))
        else:
            parts.append(pd.get_dummies(df[c].fillna("unknown").astype(str), prefix=c))
    return pd.concat(parts, axis=1).to_numpy(dtype=np.float32), cols


def audit(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    images_root: str | os.PathLike[str] | None = None,
    max_images: int = 4000,
    folds: int = 5,
    seed: int = 0,
    n_boot: int = 200,
    say: Callable[[str], Any] = log.info,
) -> dict[str, Any]:
    """Run the three questions on a manifest (``path``, ``label``, ``patient_id``; metadata and ``inserted`` when there).

    At most ``max_images`` rows are read (a label-stratified sample, seeded). With ``out``,
    writes ``audit.json`` and ``audit.png`` there.
    """
    from ..explain import lung_fields
    from ..io import ImageError, load_image

    man = Path(manifest)
    df = pd.read_csv(man, dtype={"path": str, "patient_id": str}, keep_default_na=False)
    if not {"path", "label"} <= set(df.columns):
        raise ValueError(f"{man}: an audit needs 'path' and 'label' columns")
    df["label"] = pd.to_numeric(df["label"], errors="coerce").fillna(0).astype(int)
    if "patient_id" not in df.columns:
        df["patient_id"] = df["path"]
    if len(df) > max_images:
        df = df.groupby("label", group_keys=False).apply(lambda g: g.sample(min(len(g), max_images * len(g) // len(df) + 1), random_state=seed))
    root = Path(images_root) if images_root else man.parent
    feats, keep = [], []
    for i, r in enumerate(df.itertuples()):
        path = Path(r.path) if Path(r.path).is_absolute() else root / r.path
        try:
            px = load_image(path, force=True).pixels
        except ImageError:
            continue
        feats.append(outside_lungs(px, lung_fields(px).full()))
        keep.append(i)
        if (i + 1) % 500 == 0:
            say(f"audit: {i + 1} of {len(df)} films read")
    df = df.iloc[keep].reset_index(drop=True)
    x = np.stack(feats) if feats else np.zeros((0, 1))
    y, groups = df["label"].to_numpy(), df["patient_id"].astype(str).to_numpy()
    res: dict[str, Any] = {"manifest": str(man), "films": int(len(df)), "positives": int(y.sum()), "flag_auroc": FLAG_AUROC, "questions": {}}
    q = res["questions"]
    q["outside_lungs"] = _verdict("outside_lungs", "what lies outside the lung fields", _cv_auroc(x, y, groups, folds, seed, n_boot))
    meta, cols = _metadata_features(df)
    if meta is not None:
        q["metadata"] = _verdict("metadata", f"the header metadata ({', '.join(cols)})", _cv_auroc(meta, y, groups, folds, seed, n_boot))
    if "inserted" in df.columns:
        inserted = df["inserted"].astype(str).str.lower().isin(("true", "1"))
        pick = (inserted & (y == 1)) | (~inserted & (y == 0))
        if pick.any():
            yi = inserted[pick].astype(int).to_numpy()
            q["inserted"] = _verdict(
                "inserted",
                "outside the lungs, inserted positives against native negatives",
                _cv_auroc(x[pick.to_numpy()], yi, groups[pick.to_numpy()], folds, seed, n_boot),
            )
    res["flagged"] = any(v.get("flagged") for v in q.values())
    for v in q.values():
        say(v["sentence"])
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "audit.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
        res["figure"] = str(figure(res, out / "audit.png"))
    return res


def figure(res: dict[str, Any], path: Path) -> Path:
    """The questions' AUROCs with their CIs against chance and the flag line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k, v in res["questions"].items() if v.get("auroc") is not None]
    fig, ax = plt.subplots(figsize=(6, 1.2 + 0.6 * max(1, len(names))))
    for i, k in enumerate(names):
        v = res["questions"][k]
        colour = "tab:red" if v["flagged"] else "tab:green"
        ax.errorbar(v["auroc"], i, xerr=[[v["auroc"] - v["ci_low"]], [v["ci_high"] - v["auroc"]]], fmt="o", color=colour, capsize=4)
    ax.axvline(0.5, color="grey", ls="--", lw=1, label="chance")
    ax.axvline(FLAG_AUROC, color="tab:red", ls=":", lw=1, label=f"flag at {FLAG_AUROC}")
    ax.set_yticks(range(len(names)), [k.replace("_", " ") for k in names])
    ax.set_xlim(0.3, 1.0)
    ax.set_xlabel("cross-validated AUROC of the label from it (95% CI)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Shortcut audit: can the label be told from what is not the pattern?", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
