"""Lung fields on whole outlined sets of real films: ``cxr-miliary bench lungs --real-set MANIFEST.csv``.

The manifest is the one ``cxr-miliary manifest jsrt|montgomery|shenzhen`` writes for
training the lung model (films and masks in their published layouts, read by
:func:`~cxr_miliary.data.lung_masks.read_sample`), so a set you train on is the set you
measure on, by split. Every film is one row: its IoU against its outline (both lungs, and
each lung by side), whether the frontal-chest check accepts it, or the error that stopped
it (a missing or unreadable file is one error row, not a failed run). The issue's bar
for real films is per film (IoU >= 0.80 on each), so the summary counts films under it and
names the worst. Benchmarks, not tests: nothing here asserts a figure.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from ..metrics import mask_iou

#: The issue's bar for lung fields on each real film.
REAL_FILM_BAR = 0.80


def _film(pixels: np.ndarray, truth: np.ndarray, methods: dict[str, Callable[[np.ndarray], Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One film's IoU per method (both lungs, and the mean of the two lungs by side), and the fields each method found."""
    from .lungs import side_iou

    found = {name: fn(pixels) for name, fn in methods.items()}
    ious = {n: {"iou": mask_iou(f.full(), truth > 0), "side_iou": side_iou(f.sides_at(truth.shape), truth)} for n, f in found.items()}
    return ious, found


def set_summary(films: list[dict[str, Any]], method: str) -> dict[str, Any]:
    """Mean, 5th percentile, min and films under :data:`REAL_FILM_BAR` of one method's IoU over the films that were read."""
    v = np.asarray([f[method]["iou"] for f in films if method in f], dtype=float)
    if not v.size:
        return {"n": 0}
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "p5": float(np.percentile(v, 5)),
        "min": float(v.min()),
        "under_bar": int((v < REAL_FILM_BAR).sum()),
    }


def outlined_set_bench(
    manifest: str | os.PathLike[str],
    methods: dict[str, Callable[[np.ndarray], Any]],
    split: str | None = None,
    opacities: int = 0,
    seed: int = 0,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """IoU of each method on every outlined film of a lung manifest (rows of ``split`` only, when given), by source.

    ``opacities``: also draw each air-space condition that many times into every film
    (:func:`~cxr_miliary.bench.lungs.opacified_real`; the outline stays the truth), summed
    over the films per condition: the mean of the films' means, the worst film's worst draw.
    """
    import pandas as pd

    from ..data.lung_masks import is_negative, read_sample
    from .lungs import chest_verdict_with, opacified_real

    df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    for column in ("mask", "mask_image_left", "mask_image_right", "source"):  # a hand-made manifest may carry one kind of mask
        if column not in df.columns:
            df[column] = ""
    if split:
        df = df[df["split"] == split]
    rows = [r for r in df.to_dict("records") if not is_negative(r)]
    films: list[dict[str, Any]] = []
    drawn: dict[str, dict[str, list[float]]] = {}
    drawn_with = "learned" if "learned" in methods else next(iter(methods))
    for row in rows:
        rec: dict[str, Any] = {"path": row["path"], "source": row.get("source") or "?"}
        try:
            pixels, target = read_sample(row)
            if not (target > 0).any():
                raise ValueError("its mask holds no lung")
        except Exception as exc:  # one unreadable film or mask is one error row
            rec["error"] = f"{type(exc).__name__}: {exc}"
            films.append(rec)
            log(f"  {os.path.basename(rec['path'])}: not measured ({rec['error']})")
            continue
        truth = target.astype(np.int8)
        ious, found = _film(pixels, truth, methods)
        rec.update(ious)
        verdict = chest_verdict_with(pixels, found)
        rec["chest_check"] = "accepted" if verdict.frontal_chest else (verdict.reasons[0] if verdict.reasons else "refused")
        films.append(rec)
        if opacities:  # the learned fields only, as bench lungs --real does
            res = opacified_real(pixels, truth, {drawn_with: methods[drawn_with]}, opacities, seed, log=lambda _: None)
            for cond, r in res.items():
                d = drawn.setdefault(cond, {"mean": [], "min": [], "accepted": []})
                d["mean"].append(r[drawn_with]["iou"]["mean"])
                d["min"].append(r[drawn_with]["iou"]["min"])
                d["accepted"].append(r["chest_check"]["accepted"])
    read = [f for f in films if "error" not in f]
    out: dict[str, Any] = {
        "manifest": os.path.basename(str(manifest)),
        "split": split,
        "films": films,
        "errors": len(films) - len(read),
        "by_source": {},
    }
    log(
        f"lung fields on {len(read)} outlined films of {out['manifest']}" + (f" ({split} split)" if split else "") + f", {out['errors']} not measured"
    )
    for source in sorted({f["source"] for f in read}):
        these = [f for f in read if f["source"] == source]
        checks = Counter(f["chest_check"] for f in these)
        out["by_source"][source] = {m: set_summary(these, m) for m in methods} | {"chest_check": dict(checks)}
        for m in methods:
            s = out["by_source"][source][m]
            log(
                f"  {source:12s} {m:9s} IoU mean {s['mean']:.3f}  p5 {s['p5']:.3f}  min {s['min']:.3f}  "
                f"{s['under_bar']} of {s['n']} under {REAL_FILM_BAR:.2f}"
            )
        log(f"  {source:12s} frontal-chest check: {checks.get('accepted', 0)} of {len(these)} accepted")
    if read:
        worst = sorted(read, key=lambda f: f[drawn_with]["iou"])[:5]
        log(f"  worst films ({drawn_with}): " + ", ".join(f"{os.path.basename(f['path'])} {f[drawn_with]['iou']:.3f}" for f in worst))
    if drawn:
        out["opacified"] = {
            c: {
                "mean": float(np.mean(d["mean"])),
                "worst": float(np.min(d["min"])),
                "accepted": int(np.sum(d["accepted"])),
                "drawn": opacities * len(d["mean"]),
            }
            for c, d in drawn.items()
        }
        for c, d in out["opacified"].items():
            log(f"  drawn {c:20s} IoU mean {d['mean']:.3f}  worst {d['worst']:.3f}  chest check {d['accepted']} of {d['drawn']}")
    return out
