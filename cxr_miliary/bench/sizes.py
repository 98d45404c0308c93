"""``cxr-miliary bench sizes``: the model's quality at the sizes films come in.

The same phantoms (one seed: the same patients and findings) rendered at each size -
512 px (where the first default model was trained and measured), 1,024, 2,048 and
3,000 px, or ``detector`` (each film at a CR/DX detector's own size) - and evaluated
together: AUROC, the subtle tier's AUROC and the in-distribution rate per size
(:func:`cxr_miliary.evaluation.run.size_groups`). Benchmarks, not tests.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


def sizes_bench(
    weights: str | None,
    *,
    n: int = 100,
    sizes: tuple[int | str, ...] = (512, 1024, 2048, 3000),
    seed: int = 8101,
    workers: int = 2,
    out: str | None = None,
    log: Callable[[str], Any] = print,
    framing: str = "phantom",
) -> dict[str, Any]:
    """Render ``n`` phantoms of ``seed`` at every size, evaluate them together, return (and log) the per-size figures.

    ``framing``: ``"tight"`` frames the chest as real films are collimated (the lung box
    75-87 % of the film; :data:`~cxr_miliary.phantom.patterns.FRAMINGS`).
    """
    from ..evaluation import evaluate
    from ..phantom import generate_phantoms
    from ..predictor import Predictor

    predictor = Predictor.load(weights) if weights else Predictor.from_pretrained()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parts = []
        for size in sizes:
            man = pd.read_csv(
                generate_phantoms(n, root / f"s{size}", seed=seed, size=size, formats=("png",), workers=max(1, workers), framing=framing)
            )
            folder = root / f"s{size}"
            parts.append(man.assign(**{c: [str(folder / p) for p in man[c]] for c in ("path", "lung_mask", "lesion_mask")}))
        manifest = root / "manifest.csv"
        pd.concat(parts).to_csv(manifest, index=False)
        metrics = evaluate(predictor, manifest, Path(out) if out else root / "eval", num_workers=workers, n_boot=200, progress=False)
    rows = metrics.get("by_size", {})
    log(f"{n} phantoms of seed {seed} at each size ({framing} framing), model {predictor.model_info['name']} ({predictor.runtime.name}):")
    log(f"  {'size':>12s} {'images':>7s} {'AUROC':>7s} {'subtle':>7s} {'in distribution':>16s} {'map in lungs':>13s}")
    for group, r in rows.items():
        rate, mass = r.get("in_distribution_rate"), r.get("cam_mass_in_lungs")
        log(
            f"  {group:>12s} {r['images']:7d} {_f(r.get('auroc')):>7s} {_f(r.get('auroc_subtle')):>7s} "
            f"{'n/a' if rate is None else f'{rate:.1%}':>16s} {'n/a' if mass is None else f'{mass:.1%}':>13s}"
        )
    return {"seed": seed, "n": n, "framing": framing, "by_size": rows, "model": predictor.model_info}


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"
