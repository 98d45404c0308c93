"""``cxr-miliary cv --config C --folds K --out DIR``: patient-level cross-validation and one ensemble bundle."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError, non_negative_int


def _folds(value: str) -> int:
    k = non_negative_int(value)
    if not 2 <= k <= 32:
        raise argparse.ArgumentTypeError(f"{value}: 2 to 32 folds")
    return k


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``cv`` command."""
    p = sub.add_parser(
        "cv",
        help="cross-validate a training config: K patient-level folds over train + val, out-of-fold predictions, one ensemble bundle",
        description="Pools the manifest's train and val rows into K stratified, patient-level folds (the test split is untouched), "
        "trains one model per fold as 'train fit' would, writes DIR/oof.csv (every row once, scored by the fold that did not see "
        "it), fits calibration and threshold on all of them, and writes DIR/ensemble: one bundle averaging the folds' logits. "
        "Resumable: finished folds are not trained again. Other arguments go to LightningCLI (e.g. --trainer.max_epochs 3).",
    )
    p.add_argument("--config", action="append", required=True, metavar="C", help="a training config (repeatable, as for train)")
    p.add_argument("--folds", type=_folds, default=5, help="K (default: %(default)s)")
    p.add_argument("--out", required=True, help="the folder: folds.csv, fold<k>/, oof.csv, ensemble/")
    p.add_argument("--seed", type=non_negative_int, default=0, help="the folds' shuffle")
    p.set_defaults(func=run, forward_unknown=True)


def run(args: argparse.Namespace) -> int:
    """Cross-validate and report."""
    from ..outputs.paths import OutputPathError, check_dir_target
    from ..training.cv import run_cv

    try:
        check_dir_target(args.out, "--out")
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
    lightning_args = [a for c in args.config for a in ("--config", c)] + list(getattr(args, "unknown", []))
    try:
        res = run_cv(lightning_args, args.folds, args.out, seed=args.seed, say=lambda line: sys.stderr.write(line + "\n"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(
        f"{res['oof']}: out-of-fold AUROC {res['oof_auroc']:.3f}; ensemble bundle {res['ensemble']} ({res['trained_now']} fold(s) trained now)\n"
    )
    return 0
