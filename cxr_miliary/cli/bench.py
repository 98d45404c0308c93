"""``cxr-miliary bench [inference|phantom|cache|train|lungs|peer|sizes|insertion|pacs|orthanc|review]``: figures measured on this machine."""

from __future__ import annotations

import argparse
import os
import sys

from .. import strict_json
from ._common import UsageError, non_negative_int, positive_int


def _workers(text: str) -> tuple[int, ...]:
    from ..bench.training import parse_workers

    try:
        return parse_workers(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command."""
    from ..phantom.patterns import FRAMINGS

    p = sub.add_parser(
        "bench",
        help="throughput/latency/memory/faithfulness figures on this machine",
        description="inference (default): generate phantom DICOMs and measure, in one run: model forward vs end-to-end "
        "score throughput (fp32 eager, fp32 channels_last, the auto runtime, ONNX Runtime when exported; with and "
        "without Grad-CAM), score vs a predict() loop, predict latency with and without Grad-CAM, CLI cold start, "
        "faithfulness of the fast path, and score's peak memory for 200 vs 2000 inputs. "
        "phantom: phantom rendering per process. cache: the prepare cache vs decoding DICOMs. "
        "train: the training data pipeline against the model's step. lungs: lung fields against phantom truth "
        "and hand outlines of real films (--real), and their time at 2048². "
        "peer (or --vs-peer): score --cam-dir against TorchXRayVision's DenseNet-121 at 512 px with pytorch-grad-cam, "
        "one image at a time, whole processes on the same DICOMs. "
        "sizes: the same phantoms rendered at each size (--sizes), AUROC, subtle tier, in-distribution rate and the map's mass in the lungs per size. "
        "insertion: is lesion insertion realistic enough to learn from (transfer to rendered positives; a tell-tale classifier)? "
        "pacs: the DICOM node (serve, films in and results out by C-STORE) against score --dicom-out on the same films. "
        "orthanc: films through a real PACS (Debian's Orthanc) to the node and back, by C-STORE and by STOW-RS, against score --dicom-out. "
        "review: a review page of 10,000 made-up rows in headless Chromium: first paint, memory, drawing while scrolling.",
    )
    p.add_argument(
        "what",
        nargs="?",
        default="inference",
        choices=["inference", "phantom", "cache", "train", "lungs", "peer", "sizes", "insertion", "pacs", "orthanc", "review"],
    )
    p.add_argument("--epochs", type=positive_int, default=8, help="insertion: training epochs of each network")
    p.add_argument("--sizes", default="512,1024,2048,3000", help="sizes: render sizes (pixels, or 'detector'), comma list")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="sizes, lungs --conditions: the phantoms' seed, one never used to train or choose (default: 8101 for sizes, 7301 for lungs)",
    )
    p.add_argument("--out", default=None, help="sizes: keep the evaluation (report, scores, maps) here")
    p.add_argument("--vs-peer", action="store_true", help="the same as 'bench peer'")
    p.add_argument("--repeats", type=positive_int, default=3, help="peer, pacs: runs of each side, in turn (the median is reported)")
    p.add_argument("--weights", default=None)
    p.add_argument("--n", type=positive_int, default=None, help="images (default: 32 for inference, 40 otherwise)")
    p.add_argument("--size", type=positive_int, default=None, help="image side (default: 2048; phantom: 1024)")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--workers", type=non_negative_int, default=2)
    p.add_argument("--score-inputs", type=positive_int, default=128, help="inputs per score/predict-loop run (the N files repeated; default 128)")
    p.add_argument("--no-memory", action="store_true", help="skip the 200 vs 2000 inputs memory runs")
    p.add_argument("--json", default=None, help="also write the figures as JSON")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="train: where the model runs")
    p.add_argument("--train-precision", default="bf16-mixed", choices=["bf16-mixed", "32-true"], help="train: the model's precision")
    p.add_argument("--backbone", default="resnet10t", help="train: timm backbone")
    p.add_argument("--head", default="grid", choices=["global", "grid"], help="train: classifier head")
    p.add_argument("--train-workers", type=_workers, default=(0, 1, 2), help="train: DataLoader worker counts to measure (comma list)")
    p.add_argument(
        "--real",
        action="append",
        default=None,
        metavar="FILE[=MASK]",
        help="lungs: a real film and its lung outline as a mask image (one level: both lungs; two: image-left, image-right), or a film with a built-in outline (repeatable)",
    )
    p.add_argument(
        "--real-set",
        action="append",
        default=None,
        metavar="MANIFEST",
        help="lungs: every outlined film of a lung manifest (cxr-miliary manifest jsrt|montgomery|shenzhen): IoU per film and source, "
        "films under 0.80, the frontal-chest check (repeatable; the phantoms only with --n)",
    )
    p.add_argument("--real-split", default=None, metavar="SPLIT", help="lungs --real-set: only the rows of this split (e.g. test)")
    p.add_argument(
        "--conditions",
        action="store_true",
        help="lungs: also IoU per phantom condition (normal, consolidation, effusion, ...) and per size (--sizes)",
    )
    p.add_argument(
        "--conditions-n", type=int, default=30, metavar="N", help="lungs --conditions: phantoms per condition and size (default: %(default)s)"
    )
    p.add_argument(
        "--conditions-pattern",
        default="normal",
        choices=["normal", "drawn"],
        help="lungs --conditions: lungs with no finding (normal, the default) or the pattern each phantom draws as `cxr-miliary phantom` does (drawn)",
    )
    p.add_argument(
        "--framing",
        default="phantom",
        choices=FRAMINGS,
        help="lungs --conditions, sizes: the phantoms framed as always (phantom, the default) or as real films are collimated (tight: the lung box 75-87 %% of the film)",
    )
    p.add_argument(
        "--opacities",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="lungs --real: also draw each air-space condition (consolidation, effusion, haze, white-out, bilateral opacities) and "
        "lines and wires N times into each outlined real film, its outline the truth, and report IoU and the frontal-chest check per condition "
        "(default: %(default)s, none)",
    )
    p.add_argument("--sheet", default=None, metavar="PNG", help="lungs: write a contact sheet of the outlines")
    p.set_defaults(func=run)


def _check_lung_manifest(path: str, split: str | None) -> None:
    """A lung manifest that exists and has the columns ``--real-set`` reads, or a UsageError naming what is wrong."""
    import pandas as pd

    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such lung manifest (cxr-miliary manifest jsrt|montgomery|shenzhen writes one)")
    try:
        columns = set(pd.read_csv(path, nrows=0).columns)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise UsageError(f"{path}: not a CSV lung manifest ({type(exc).__name__})") from None
    missing = ({"path"} | ({"split"} if split else set())) - columns
    if not ("mask" in columns or {"mask_image_left", "mask_image_right"} <= columns):
        missing.add("mask (or mask_image_left and mask_image_right)")
    if missing:
        raise UsageError(f"{path}: not a lung manifest: no {', '.join(sorted(missing))} column")


def run(args: argparse.Namespace) -> int:
    """Run and print."""

    def log(s: str) -> None:
        sys.stdout.write(s + "\n")
        sys.stdout.flush()

    if args.vs_peer or args.what == "peer":
        from ..bench.peer import peer_bench

        res = peer_bench(args.weights, n=args.n or 16, size=args.size or 2048, repeats=args.repeats, log=log)
    elif args.what == "sizes":
        from ..bench.sizes import sizes_bench

        sizes = tuple(int(v) if v.strip().isdigit() else v.strip() for v in args.sizes.split(",") if v.strip())
        res = sizes_bench(
            args.weights,
            n=args.n or 100,
            sizes=sizes,
            seed=8101 if args.seed is None else args.seed,
            workers=args.workers,
            out=args.out,
            log=log,
            framing=args.framing,
        )
    elif args.what == "insertion":
        from ..bench.insertion import insertion_bench

        res = insertion_bench(n_train=args.n or 800, size=args.size or 256, epochs=args.epochs, log=log)
    elif args.what == "pacs":
        from ..bench.pacs import pacs_bench

        res = pacs_bench(args.weights, n=args.n or 64, size=args.size or 2048, repeats=args.repeats, log=log)
    elif args.what == "orthanc":
        from ..bench.orthanc import orthanc_bench

        res = orthanc_bench(args.weights, n=args.n or 20, size=args.size or 2048, log=log)
    elif args.what == "review":
        from ..bench.review import review_bench

        res = review_bench(args.n or 10_000, log=log)
    elif args.what == "phantom":
        from ..bench.data import phantom_speed

        res = phantom_speed(args.n or 40, args.size or 1024, log=log)
    elif args.what == "train":
        from ..bench.training import train_bench

        res = train_bench(
            n=args.n or 256,
            size=args.size or 512,
            batch=args.batch_size,
            workers=args.train_workers,
            device=args.device,
            precision=args.train_precision,
            backbone=args.backbone,
            head=args.head,
            log=log,
        )
    elif args.what == "lungs":
        from ..bench.lungs import UNSEEN_SEED, lung_bench

        seed = UNSEEN_SEED if args.seed is None else args.seed
        for manifest in args.real_set or []:  # before the phantoms: a wrong path is said at once
            _check_lung_manifest(manifest, args.real_split)
        n = args.n if args.n is not None else (0 if args.real_set else 100)  # a real set alone: no phantoms unless --n asks
        res = lung_bench(n, args.size or 1024, seed, real=args.real, sheet=args.sheet, log=log, opacities=args.opacities)
        if args.real_set:
            from ..bench.lung_sets import outlined_set_bench
            from ..bench.lungs import lung_methods

            res["real_sets"] = [
                outlined_set_bench(m, lung_methods(), split=args.real_split, opacities=args.opacities, seed=seed, log=log) for m in args.real_set
            ]
        if args.conditions:
            from ..bench.lungs import condition_bench

            sizes = tuple(int(v) for v in args.sizes.split(",") if v.strip())
            log(
                f"lung fields per phantom condition and size: {args.conditions_n} phantoms each, seed {seed}, {args.conditions_pattern} lungs, "
                f"{args.framing} framing"
            )
            res["conditions"] = condition_bench(args.conditions_n, sizes, seed=seed, log=log, pattern=args.conditions_pattern, framing=args.framing)
    elif args.what == "cache":
        from ..bench.data import cache_speed

        res = cache_speed(args.n or 40, args.size or 2048, log=log)
    else:
        from ..bench.inference import run_bench

        res = run_bench(
            args.weights,
            n=args.n or 32,
            size=args.size or 2048,
            batch_size=args.batch_size,
            workers=args.workers,
            memory=not args.no_memory,
            score_inputs=args.score_inputs,
            log=log,
        )
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(strict_json.dumps(res, indent=2) + "\n")
    return 0
