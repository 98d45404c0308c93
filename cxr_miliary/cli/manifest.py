"""``cxr-miliary manifest {padchest,nih,csv,folder}``: a leak-free training manifest."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _ratios(value: str) -> tuple[float, float, float]:
    parts = [float(v) for v in value.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("give three ratios: train,val,test")
    return parts[0], parts[1], parts[2]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``manifest`` command and its sources."""
    from ..data.labels import DEFAULT_POSITIVE_TERMS

    p = sub.add_parser(
        "manifest",
        help="training manifest with patient-level splits",
        description="Build manifest.csv (path,label,patient_id,split + source columns) from a published label table.",
    )
    src = p.add_subparsers(dest="source", metavar="SOURCE", required=True, parser_class=type(p))
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, help="manifest CSV to write")
    common.add_argument("--images-root", default=None, help="folder the image paths are relative to; missing files are excluded")
    common.add_argument("--ratios", type=_ratios, default=(0.8, 0.1, 0.1), help="train,val,test (default: 0.8,0.1,0.1)")
    common.add_argument("--seed", type=int, default=0, help="split seed")

    pc = src.add_parser("padchest", parents=[common], help="PadChest label table (.csv or .csv.gz)")
    pc.add_argument("--labels", required=True, help="PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv[.gz]")
    pc.add_argument("--positive-terms", type=_csv, default=DEFAULT_POSITIVE_TERMS, help="comma list of exact label terms")
    pc.add_argument("--views", type=_csv, default=("PA", "AP", "AP_horizontal"), help="projections to keep")

    nih = src.add_parser("nih", parents=[common], help="NIH ChestX-ray14 Data_Entry_2017.csv (proxy labels)")
    nih.add_argument("--labels", required=True)
    nih.add_argument("--positive-labels", type=_csv, required=True, help="NIH findings used as the proxy positive, e.g. Nodule,Infiltration")
    nih.add_argument("--views", type=_csv, default=("PA", "AP"))

    loc = src.add_parser("csv", parents=[common], help="a local table with path and label columns")
    loc.add_argument("--table", required=True)
    loc.add_argument("--path-col", required=True)
    loc.add_argument("--label-col", required=True)
    loc.add_argument("--patient-col", default=None)
    loc.add_argument("--split-col", default=None, help="honour an existing split column")

    fol = src.add_parser("folder", parents=[common], help="root/positive/... and root/negative/...")
    fol.add_argument("--root", required=True)

    # lung-field sets for `train-lungs`: masks with sides, not labels
    lung = argparse.ArgumentParser(add_help=False)
    lung.add_argument("--out", required=True, help="lung-mask manifest CSV to write")
    lung.add_argument("--ratios", type=_ratios, default=(0.8, 0.1, 0.1), help="train,val,test (default: 0.8,0.1,0.1)")
    lung.add_argument("--seed", type=int, default=0, help="split seed")
    js = src.add_parser("jsrt", parents=[lung], help="lung masks: JSRT .IMG files with the SCR masks")
    js.add_argument("--images", required=True, help="folder of JSRT *.IMG (2048x2048 12-bit raw)")
    js.add_argument("--scr", required=True, help="SCR folder holding masks/{left lung,right lung}/*.gif")
    mo = src.add_parser("montgomery", parents=[lung], help="lung masks: Montgomery County (CXR_png, ManualMask)")
    mo.add_argument("--root", required=True)
    sz = src.add_parser("shenzhen", parents=[lung], help="lung masks: Shenzhen CXR_png with the published combined masks")
    sz.add_argument("--root", required=True)
    sz.add_argument("--masks", required=True, help="folder of CHNCXR_*_mask.png")
    ph = src.add_parser("phantom-lungs", parents=[lung], help="lung masks: phantoms written by `cxr-miliary phantom`")
    ph.add_argument("--phantoms", required=True, help="the phantom manifest.csv")
    ng = src.add_parser("lung-negatives", parents=[lung], help="pictures with no lung (drawings), made here, written beside --out")
    ng.add_argument("--n", type=int, required=True, help="how many")
    ng.add_argument("--size", type=int, default=512, help="their side in pixels")
    p.set_defaults(func=run)


LUNG_SOURCES = ("jsrt", "montgomery", "shenzhen", "phantom-lungs", "lung-negatives")


def _run_lungs(args: argparse.Namespace) -> int:
    from ..data import lung_masks as lm

    common = {"ratios": args.ratios, "seed": args.seed}
    if args.source == "jsrt":
        df = lm.jsrt_manifest(args.images, args.scr, args.out, **common)
    elif args.source == "montgomery":
        df = lm.montgomery_manifest(args.root, args.out, **common)
    elif args.source == "shenzhen":
        df = lm.shenzhen_manifest(args.root, args.masks, args.out, **common)
    elif args.source == "lung-negatives":
        df = lm.negative_lung_manifest(args.n, args.out, size=args.size, **common)
    else:
        try:
            df = lm.phantom_lung_manifest(args.phantoms, args.out, **common)
        except (FileNotFoundError, KeyError) as exc:
            raise UsageError(f"{args.phantoms}: not a phantom manifest with lung masks ({exc})") from None
    if df.empty:
        raise UsageError(f"no image with both lung masks found for {args.source}; wrote an empty {args.out}")
    counts = df["split"].value_counts().to_dict()
    what = "pictures with no lung" if args.source == "lung-negatives" else "images with lung masks"
    sys.stdout.write(f"{args.out}: {len(df)} {what} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})\n")
    return 0


def run(args: argparse.Namespace) -> int:
    """Build, write and summarise."""
    from pathlib import Path

    if args.source in LUNG_SOURCES:
        return _run_lungs(args)

    from ..data import csv_manifest, folder_manifest, nih_manifest, padchest_manifest, summarise

    common = {"ratios": args.ratios, "seed": args.seed}
    try:
        if args.source == "padchest":
            df, rep = padchest_manifest(args.labels, images_root=args.images_root, positive_terms=args.positive_terms, views=args.views, **common)
        elif args.source == "nih":
            df, rep = nih_manifest(args.labels, positive_labels=args.positive_labels, images_root=args.images_root, views=args.views, **common)
        elif args.source == "csv":
            df, rep = csv_manifest(
                args.table,
                path_col=args.path_col,
                label_col=args.label_col,
                patient_col=args.patient_col,
                split_col=args.split_col,
                images_root=args.images_root,
                **common,
            )
        else:
            df, rep = folder_manifest(args.root, **common)
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    if df.empty:
        raise UsageError("no rows left after filtering; nothing written")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    w = sys.stdout.write
    w(f"{out}: {len(df)} images from {rep.source_rows} source rows\n")
    w(summarise(df).to_string() + "\n")
    for reason, n in rep.dropped.items():
        w(f"dropped {n}: {reason}\n")
    if rep.missing_examples:
        w("first missing files: " + ", ".join(rep.missing_examples) + "\n")
    if args.source == "nih":
        w("note: ChestX-ray14 has no miliary label; this manifest is a proxy task for pre-training\n")
    return 0
