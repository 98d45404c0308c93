"""``cxr-miliary demo``: the whole main job on the built-in default, no data needed."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import strict_json
from ._common import add_model_options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser(
        "demo",
        help="run the whole product on generated phantoms with the default model",
        description="Generate a small mixed set of phantom radiographs, score them with the default model "
        "and Grad-CAM, and write overlays, JSON, a scores table and the HTML report.",
    )
    p.add_argument("--out", default="cxr-miliary-demo")
    p.add_argument("--n", type=int, default=24, help="phantoms to generate (default: %(default)s)")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--seed", type=int, default=4242, help="phantom seed (never used in training)")
    p.add_argument("--workers", type=int, default=2)
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate, score, explain, report; print where to look."""
    from ..evaluation import evaluate
    from ..phantom import generate_phantoms
    from ._common import load_predictor

    t0 = time.perf_counter()
    out = Path(args.out)
    predictor = load_predictor(args)
    manifest = generate_phantoms(
        args.n, out / "phantoms", seed=args.seed, size=args.size, formats=("dcm",), workers=max(1, args.workers), progress=not args.quiet
    )
    metrics = evaluate(predictor, manifest, out, batch_size=8, num_workers=args.workers, n_boot=200, progress=not args.quiet)
    # one full prediction as the CLI would print it, for the most confident positive
    import pandas as pd

    scores = pd.read_csv(out / "scores.csv", keep_default_na=False)
    best = scores.loc[pd.to_numeric(scores["probability"], errors="coerce").idxmax(), "path"]
    example = predictor.predict(best).to_dict()
    (out / "example_prediction.json").write_text(strict_json.dumps(example, indent=2) + "\n")
    a = metrics["metrics"]["auroc"]
    w = sys.stdout.write
    w(f"cxr-miliary demo — {metrics['n']} phantom radiographs ({metrics['positives']} with the pattern), model {predictor.model_info['name']}\n")
    w(
        f"  AUROC {a['value']:.3f} (95% CI {a['ci_low']:.3f}-{a['ci_high']:.3f}); sensitivity {metrics['metrics']['sensitivity']['value']:.2f}, specificity {metrics['metrics']['specificity']['value']:.2f} at threshold {predictor.threshold:.3f}\n"
    )
    w(
        f"  report:      {out / 'report.html'}\n  scores:      {out / 'scores.csv'}\n  overlays:    {out / 'cams'}/*.jpg\n  example:     {out / 'example_prediction.json'}\n"
    )
    w(f"  done in {time.perf_counter() - t0:.0f} s. Synthetic data and a phantom-trained model: not a medical device.\n")
    return 0
