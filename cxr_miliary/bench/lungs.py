"""Lung-field benchmark: agreement with phantom truth and with hand outlines of real films, and speed.

``cxr-miliary bench lungs``. The learned lung model (``weights/lungs``) and the classical
estimate are measured side by side on phantoms from a seed the lung model never trained on,
on any real film given with ``--real`` that :mod:`.real_outlines` holds an outline for, and
for time at 2048². Benchmarks, not tests: nothing here asserts a figure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..explain.region import kept_share, lung_box
from ..metrics import mask_iou

UNSEEN_SEED = 7301  # the lung models train on seeds 2000-2300 (configs/lung_fields*.yaml); 7001 chose between them


def side_iou(sides: np.ndarray | None, truth: np.ndarray) -> float | None:
    """Mean IoU of the two lungs taken side by side (None when the method gives no sides)."""
    if sides is None:
        return None
    return float(np.mean([mask_iou(sides == s, truth == s) for s in (1, 2)]))


def base_gap(sides: np.ndarray | None, truth: np.ndarray) -> float | None:
    """How far the found field's lower edge lies below the true lung's, as a share of the true lungs' height: the lung further off.

    The lower edge is each column's lowest lung pixel, compared over the columns both the
    field and the true lung cover and averaged: the dome's height, not the thin tip of a
    costophrenic angle. Negative: the field stops short of the base (a hidden dome drawn too
    high, as on real films drawn white); positive: it runs on below it. Side by side when
    both the fields (``sides``, a side map at the truth's shape) and the truth carry sides,
    else the fields and the lungs as one. None when either has no lung; -1 for a true lung
    with no field.
    """
    t_rows = np.flatnonzero((truth > 0).any(axis=1))
    if sides is None or not t_rows.size or not (sides > 0).any():
        return None
    height = t_rows[-1] - t_rows[0] + 1
    paired = all((truth == s).any() for s in (1, 2))
    pairs = [(sides == s, truth == s) for s in (1, 2)] if paired else [(sides > 0, truth > 0)]
    rows = np.arange(truth.shape[0])[:, None]
    gaps = []
    for found, true in pairs:
        both = found.any(axis=0) & true.any(axis=0)
        if not both.any():
            return -1.0  # a lung with no field over it: the worst it can be
        low_found = np.where(found, rows, -1).max(axis=0)[both]
        low_true = np.where(true, rows, -1).max(axis=0)[both]
        gaps.append(float(np.mean(low_found - low_true)) / height)
    return float(max(gaps, key=abs))


def mask_file(path: str, shape: tuple[int, int]) -> np.ndarray:
    """A lung mask image as an int8 side map at ``shape`` (1 image-left, 2 image-right lung).

    Two grey levels are two lungs (the phantoms' 128 / 255, or any such pair: the
    darker is taken as image-left); one level (a combined mask, as Shenzhen's and most
    published sets are) is split into its two largest regions by where they lie.
    """
    import cv2
    from PIL import Image
    from scipy import ndimage as ndi

    m = np.asarray(Image.open(path).convert("L"))
    if m.shape != tuple(shape):
        m = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    levels = [v for v in np.unique(m) if v > 0]
    out = np.zeros(m.shape, np.int8)
    if len(levels) == 2:
        out[m == levels[0]], out[m == levels[1]] = 1, 2
        return out
    labels, n = ndi.label(m > 0)
    if n == 0:
        return out
    sizes = ndi.sum(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    keep = [int(k) + 1 for k in np.argsort(sizes)[::-1][:2]]
    centres = {k: ndi.center_of_mass(labels == k)[1] for k in keep}
    for side, k in enumerate(sorted(keep, key=lambda k: centres[k]), start=1):
        out[labels == k] = side
    return out


def real_spec(spec: str) -> tuple[str, str]:
    """``IMAGE`` or ``IMAGE=MASK`` as (image path, mask path or ""); an image named alone that is not a file is looked up in pydicom-data (:func:`.real_outlines.find_film`)."""
    from .real_outlines import find_film

    image, _, mask = spec.rpartition("=") if "=" in spec and os.path.isfile(spec.rpartition("=")[2]) else (spec, "", "")
    if not os.path.exists(image):
        image = find_film(os.path.basename(image)) or image
    return image, mask


def real_truth(spec: str, shape: tuple[int, int]) -> tuple[str, np.ndarray | None]:
    """``IMAGE`` (a film whose outline :mod:`.real_outlines` holds) or ``IMAGE=MASK`` (a mask image given with it): (name, side map or None)."""
    image, mask = real_spec(spec)
    name = os.path.basename(image)
    return name, (mask_file(mask, shape) if mask else outline_masks(name, shape))


def chest_verdict_with(film: np.ndarray, found: dict[str, Any]) -> Any:
    """The frontal-chest check of ``film`` on the fields the product would use, reusing them when ``found`` (per method) has them.

    The product's fields are the learned ones (the classical ones without a lung bundle); they
    are found again only for the inverted film.
    """
    from ..explain.lungs import find_lung_fields
    from ..inference.integrity import chest_verdict

    return chest_verdict("a drawn film", film, found["learned"] if "learned" in found else find_lung_fields(film), force=True)


def outline_masks(name: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The hand outline of a real film as an int8 side map (1 image-left, 2 image-right), or None."""
    import cv2

    from .real_outlines import OUTLINES

    rec = OUTLINES.get(name)
    if rec is None:
        return None
    out = np.zeros(shape, np.uint8)
    for side, key in ((1, "image-left"), (2, "image-right")):
        cv2.fillPoly(out, [np.asarray(rec[key], np.int32)], side)
    return out.astype(np.int8)


def lung_methods() -> dict[str, Callable[[np.ndarray], Any]]:
    """The lung-field methods measured side by side: ``classical``, ``learned`` and ``unrefined``.

    ``learned`` when a lung bundle is there; ``unrefined`` (its network without the shape
    refiner) when the bundle has a refiner.
    """
    from ..explain.lungs import classical_lung_fields, default_segmenter, learned_lung_fields

    out: dict[str, Callable[[np.ndarray], Any]] = {"classical": classical_lung_fields}
    seg = default_segmenter()
    if seg is not None:
        out["learned"] = lambda px: learned_lung_fields(px, seg)
        if getattr(seg, "has_refiner", False):
            out["unrefined"] = lambda px: learned_lung_fields(px, seg, refine=False)
    return out


def _summary(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "min": float(v.min()), "p5": float(np.percentile(v, 5)), "below_0.9": float((v < 0.9).mean())}


def lung_bench(
    n: int = 100,
    size: int = 1024,
    seed: int = UNSEEN_SEED,
    real: list[str] | None = None,
    sheet: str | None = None,
    log: Callable[[str], Any] = print,
    opacities: int = 0,
) -> dict[str, Any]:
    """IoU against phantom truth (n phantoms of ``seed``) and against real-film outlines; time at 2048².

    ``opacities``: also draw each air-space condition that many times into every real film
    with an outline (:func:`opacified_real`) - white lungs on real anatomy.
    """
    from ..io import load_image
    from ..phantom import render_phantom

    methods = lung_methods()
    res: dict[str, Any] = {"phantom": {}, "real": {}, "ms_2048": {}}
    ious: dict[str, list[float]] = {m: [] for m in methods}
    side_ious: dict[str, list[float]] = {m: [] for m in methods}
    examples = []
    for i in range(n):
        ph = render_phantom(seed, i, size)
        truth = ph.lung_side if ph.lung_side is not None else ph.lung_mask.astype(np.int8)
        for name, fn in methods.items():
            fields = fn(ph.display)
            ious[name].append(mask_iou(fields.full(), truth > 0))
            s = side_iou(fields.sides_at(truth.shape), truth)
            if s is not None:
                side_ious[name].append(s)
        if i < 3:
            examples.append((f"phantom {seed}/{i}", ph.display, truth))
    if n:
        log(f"lung fields against phantom truth: {n} phantoms, seed {seed} (not trained on), {size}²")
    for name in methods if n else ():
        res["phantom"][name] = {"iou": _summary(ious[name])}
        line = f"  {name:9s} IoU mean {np.mean(ious[name]):.3f}  p5 {np.percentile(ious[name], 5):.3f}  min {np.min(ious[name]):.3f}"
        if side_ious[name]:
            res["phantom"][name]["side_iou"] = _summary(side_ious[name])
            line += f"  per-lung IoU mean {np.mean(side_ious[name]):.3f}"
        log(line)
    for spec in real or []:
        path, _ = real_spec(spec)
        img = load_image(path, force=True).pixels
        name, truth = real_truth(spec, img.shape)
        if truth is None:
            log(f"  {path}: no outline for this film (give one: --real IMAGE=MASK.png); skipped")
            continue
        examples.append((name, img, truth))
        row = {}
        for method, fn in methods.items():
            fields = fn(img)
            box = lung_box(fields)
            row[method] = {
                "iou": mask_iou(fields.full(), truth > 0),
                "side_iou": side_iou(fields.sides_at(truth.shape), truth),
                "lung_box": None if box is None else list(box),
                "box_keeps": kept_share(box, truth),
            }
        res["real"][name] = row
        log(f"  {name} (outline given): " + ", ".join(f"{k} IoU {v['iou']:.3f}, lung box keeps {v['box_keeps']:.1%}" for k, v in row.items()))
        if opacities:
            res.setdefault("real_opacified", {})[name] = opacified_real(
                img, truth, {k: v for k, v in methods.items() if k != "classical"} if "learned" in methods else methods, opacities, seed, log
            )
    # a chest framed as phantoms are and one framed tight, as real films are: the lung model
    # looks again at each, enlarged or zoomed out (explain.lungs.ENLARGED_VIEWS, ZOOMED_VIEWS)
    films = {"": render_phantom(seed, 0, 2048).display, " framed tight": render_phantom(seed, 0, 2048, framing="tight").display}
    for name, fn in methods.items():
        for framing, big in films.items():
            fn(big)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                fn(big)
                times.append((time.perf_counter() - t) * 1000)
            res["ms_2048"][name + framing] = float(np.median(times))
    log("time per 2048² image (median of 5, one thread): " + ", ".join(f"{k} {v:.1f} ms" for k, v in res["ms_2048"].items()))
    if sheet:
        contact_sheet(examples, methods, sheet)
        log(f"contact sheet: {sheet}")
    return res


def opacified_real(
    pixels: np.ndarray,
    truth: np.ndarray,
    methods: dict[str, Callable[[np.ndarray], Any]],
    n: int,
    seed: int = UNSEEN_SEED,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """IoU on a real film with each air-space condition drawn into its outlined lungs ``n`` times (the outline stays the truth).

    :func:`~cxr_miliary.phantom.airspace_insertion.opacify`: the phantoms' consolidation,
    effusion, haze, white-out, bilateral opacities, and lines and wires on real anatomy. Per condition and
    method: the IoU summary and the mean IoU of the worse lung of each film (the white one,
    mostly); and the frontal-chest check on each film (``chest_check``: how many it accepts,
    how many of those as whole films, how many as ``lungs-unsure``, the refusals by reason) - white lungs are where its
    rules were least sure. Draws are keyed by (``seed``, condition, draw): the same on every run.
    """
    from collections import Counter

    from ..phantom.airspace_insertion import OPACITIES, opacify, soft_tissue_fill

    fill = soft_tissue_fill(pixels, truth > 0)
    out: dict[str, Any] = {}
    for c, cond in enumerate(OPACITIES):
        ious: dict[str, list[float]] = {m: [] for m in methods}
        worse: dict[str, list[float]] = {m: [] for m in methods}
        check = {"accepted": 0, "whole": 0, "unsure": 0, "refused": Counter()}
        for k in range(n):
            film = opacify(pixels, truth, cond, np.random.default_rng([seed, c, k]), fill=fill).pixels
            found = {name: fn(film) for name, fn in methods.items()}
            for name, fields in found.items():
                ious[name].append(mask_iou(fields.full(), truth > 0))
                sides = fields.sides_at(truth.shape)
                if sides is not None:
                    worse[name].append(min(mask_iou(sides == s, truth == s) for s in (1, 2)))
            verdict = chest_verdict_with(film, found)
            check["accepted"] += verdict.frontal_chest
            check["whole"] += verdict.frontal_chest and not verdict.partial
            check["unsure"] += verdict.lungs_unsure
            if not verdict.frontal_chest:
                check["refused"][verdict.reasons[0].split(" (")[0] if verdict.reasons else "refused"] += 1
        out[cond] = {m: {"iou": _summary(ious[m]), **({"worse_lung_iou": float(np.mean(worse[m]))} if worse[m] else {})} for m in methods}
        out[cond]["chest_check"] = {**check, "refused": dict(check["refused"])}
    for name in methods:
        cells = ", ".join(f"{cond} {out[cond][name]['iou']['mean']:.3f} (min {out[cond][name]['iou']['min']:.3f})" for cond in OPACITIES)
        log(f"    {name}, air-space disease and devices drawn in ({n} each): {cells}")
    cells = ", ".join(
        f"{cond} {out[cond]['chest_check']['accepted']}/{n} ({out[cond]['chest_check']['whole']} whole, {out[cond]['chest_check']['unsure']} lungs-unsure)"
        for cond in OPACITIES
    )
    log(f"    frontal-chest check accepts: {cells}")
    for cond in OPACITIES:
        for reason, count in out[cond]["chest_check"]["refused"].items():
            log(f"      {cond}: {count} refused, {reason}")
    return out


def condition_bench(
    n: int = 30,
    sizes: tuple[int, ...] = (512, 1024, 2048),
    seed: int = UNSEEN_SEED,
    conditions: tuple[str, ...] | None = None,
    log: Callable[[str], Any] = print,
    pattern: str = "normal",
    framing: str = "phantom",
) -> dict[str, Any]:
    """The learned lung fields' IoU against the anatomical lung, per phantom condition and size (n phantoms each).

    ``pattern``: ``"normal"`` lungs with no finding, or ``"drawn"``: the pattern each phantom
    draws as ``cxr-miliary phantom`` does (half miliary or reticulonodular, the rest normal or a
    confounder) - the films this tool is for, whose lungs a pattern makes whiter still.
    ``no_field`` counts the films that got no lung field at all; ``patterns`` how many films
    of each pattern were measured. ``framing``: ``"tight"`` frames the chest as real films
    are collimated (the lung box 75-87 % of the film; :data:`~cxr_miliary.phantom.patterns.FRAMINGS`).

    Also the lung region (:func:`~cxr_miliary.explain.region.lung_box`): the share of the
    true lung its box keeps (a film with no box keeps all: the whole film), how many films
    have no box, and the median millimetres per pixel of a 512-px input of the box on a
    43-cm film. The same (seed, index) is the same patient in every condition and at every
    size, so the rows differ by the condition alone.

    ``base``: where the fields' lower edge lies against the true base (:func:`base_gap`,
    share of the lungs' height; mean, most short, most over), per condition and size: a dome
    hidden by white lung and drawn too high costs IoU little, so it has its own figure.
    """
    from ..explain.lungs import find_lung_fields
    from ..explain.region import mm_per_input_pixel
    from ..phantom import render_phantom
    from ..phantom.conditions import CONDITIONS
    from ..phantom.real_shapes import archive_path

    if pattern not in ("normal", "drawn"):
        raise ValueError(f"pattern must be 'normal' or 'drawn', not {pattern!r}")
    out: dict[str, Any] = {
        "seed": seed,
        "n": n,
        "sizes": list(sizes),
        "pattern": pattern,
        "framing": framing,
        "iou": {},
        "region": {},
        "no_field": {},
        "base": {},
        "patterns": {},
    }
    # real outlines: the bench measures on those the training films never draw
    todo = list(conditions or [c for c in CONDITIONS if c != "real-lungs"])
    if not conditions and archive_path() is None:
        todo.remove("real-lungs-held-out")
        log("  real-lungs-held-out: not measured (no TorchXRayVision lung masks here: pip install 'cxr-miliary[txv]')")
    for cond in todo:
        out["iou"][cond], out["region"][cond], out["no_field"][cond], out["base"][cond] = {}, {}, {}, {}
        for size in sizes:
            ious, kept, mm, gaps, no_box, no_field = [], [], [], [], 0, 0
            for i in range(n):
                ph = render_phantom(seed, i, size, pattern="normal" if pattern == "normal" else None, condition=cond, framing=framing)
                fields = find_lung_fields(ph.display)
                no_field += not fields.small.any()
                drawn = str(ph.record.get("pattern"))
                out["patterns"][drawn] = out["patterns"].get(drawn, 0) + 1
                ious.append(mask_iou(fields.full(), ph.lung_mask))
                # side by side where fields and truth both carry sides (the learned model), else as one
                sided = fields.sides is not None and ph.lung_side is not None
                truth = ph.lung_side if sided else ph.lung_mask.astype(np.int8)
                gap = base_gap(fields.sides_at(truth.shape) if sided else fields.full().astype(np.int8), truth)
                if gap is not None:
                    gaps.append(gap)
                box = lung_box(fields)
                no_box += box is None
                kept.append(kept_share(box, ph.lung_mask))
                mm.append(mm_per_input_pixel(box, ph.lung_mask.shape, 512))
            out["iou"][cond][str(size)] = _summary(ious)
            out["region"][cond][str(size)] = {"kept": _summary(kept), "no_box": no_box, "mm_per_px_512": float(np.median(mm))}
            out["no_field"][cond][str(size)] = no_field
            g = np.asarray(gaps, dtype=float)
            out["base"][cond][str(size)] = {"mean": float(g.mean()), "min": float(g.min()), "max": float(g.max())} if g.size else None
        cells = "  ".join(
            f"{s}px {out['iou'][cond][str(s)]['mean']:.3f} (p5 {out['iou'][cond][str(s)]['p5']:.3f}, {out['no_field'][cond][str(s)]} no field)"
            for s in sizes
        )
        log(f"  {cond:15s} {cells}")
        boxes = "  ".join(
            f"{s}px kept p5 {r['kept']['p5']:.4f} min {r['kept']['min']:.4f}, {r['mm_per_px_512']:.2f} mm/px, {r['no_box']} no box"
            for s, r in ((s, out["region"][cond][str(s)]) for s in sizes)
        )
        log(f"  {'':15s} lung box: {boxes}")
        bases = "  ".join(
            f"{s}px mean {b['mean']:+.3f} (short {b['min']:+.3f}, over {b['max']:+.3f})"
            for s, b in ((s, out["base"][cond][str(s)]) for s in sizes)
            if b
        )
        log(f"  {'':15s} lower edge against the true base (share of the lungs' height): {bases}")
    return out


def contact_sheet(examples: list[tuple[str, np.ndarray, np.ndarray]], methods: dict[str, Callable[[np.ndarray], Any]], path: str) -> None:
    """One row per image: the truth (or hand outline) dashed, each method's lung fields as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"classical": "tab:orange", "learned": "tab:cyan"}
    fig, axes = plt.subplots(1, len(examples), figsize=(3.2 * len(examples), 3.6), squeeze=False)
    for ax, (title, img, truth) in zip(axes[0], examples, strict=True):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.contour(truth > 0, levels=[0.5], colors="white", linewidths=1.0, linestyles="dashed")
        for name, fn in methods.items():
            ax.contour(fn(img).full(), levels=[0.5], colors=colours.get(name, "tab:red"), linewidths=1.2)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    handles = [plt.Line2D([], [], color="white", linestyle="--", label="truth / hand outline")]
    handles += [plt.Line2D([], [], color=colours.get(n, "tab:red"), label=n) for n in methods]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, facecolor="0.3", labelcolor="white")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
