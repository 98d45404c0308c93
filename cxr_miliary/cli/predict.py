"""``cxr-miliary predict IMAGE``: probability, Grad-CAM overlay, distribution, knowledge."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import strict_json
from ._common import CAM_METHODS, UsageError, add_model_options, add_overlay_options, atomic_write, check_outputs, load_predictor, unit_interval


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command."""
    p = sub.add_parser(
        "predict",
        help="score one image: probability, Grad-CAM overlay, distribution",
        description="Score one radiograph and print one JSON object (or --format text). Research software, not a diagnosis.",
    )
    p.add_argument("image")
    add_model_options(p)
    p.add_argument("--cam", default=None, metavar="OVERLAY.{png,jpg}", help="write the Grad-CAM overlay here (PNG, or JPEG for .jpg/.jpeg)")
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write the JSON here")
    p.add_argument("--threshold", type=unit_interval, default=None, help="override the bundle's decision threshold (0 to 1)")
    p.add_argument("--cam-method", default="gradcam", choices=CAM_METHODS)
    p.add_argument("--no-cam", action="store_true", help="skip Grad-CAM (faster; no distribution)")
    p.add_argument("--force", action="store_true", help="score even if the acceptance checks reject the image")
    p.add_argument(
        "--dicom-out",
        default=None,
        metavar="DIR",
        help="write a DICOM Secondary Capture overlay and a structured report for PACS (DICOM inputs; these carry the study's identifiers)",
    )
    p.add_argument(
        "--sr",
        default="tid1500",
        choices=["tid1500", "basic"],
        help="the SR with --dicom-out: a TID 1500 Measurement Report (default) or a Basic Text SR",
    )
    p.add_argument("--no-sr", action="store_true", help="with --dicom-out: the Secondary Capture only")
    p.add_argument("--format", default="json", choices=["json", "text"])
    add_overlay_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predict through exactly what ``score`` runs (decode, then a batch of one), then write outputs only once everything succeeded."""
    from ..inference.prediction import summary_text
    from ..io import sniff_format
    from ..outputs import write_result_files

    if (args.cam or args.dicom_out) and args.no_cam:
        raise UsageError("--cam and --dicom-out need the map; drop --no-cam")
    check_outputs({"--json": args.json, "--cam": args.cam}, {"--dicom-out": args.dicom_out}, inputs=[args.image])
    if args.dicom_out and sniff_format(args.image) not in ("dicom", "dicom-legacy"):
        raise UsageError("--dicom-out needs a DICOM input (there is no study to attach the result to)")
    predictor = load_predictor(args)
    drawn = bool(args.cam or args.dicom_out)
    result = predictor.result(
        args.image,
        cam=not args.no_cam,
        cam_method=args.cam_method,
        force=args.force,
        threshold=args.threshold,
        preview_side=args.overlay_size if drawn else False,
    )
    d = result.to_json()
    written: list = []
    try:  # all outputs or none: a failure part-way removes what was already written
        if drawn:
            files = write_result_files(
                result, overlay=args.cam, overlay_side=args.overlay_size, dicom_out=args.dicom_out, sr=None if args.no_sr else args.sr
            )
            written += [Path(v) for k, v in files.items() if k == "overlay_path"]
            if "dicom_outputs" in files:
                written += [Path(x) for x in files["dicom_outputs"].split(";")]
                d["dicom_outputs"] = files["dicom_outputs"].split(";")
        text = strict_json.dumps(d, indent=2)
        if args.json:
            written.append(atomic_write(args.json, (text + "\n").encode()))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    sys.stdout.write((text if args.format == "json" else summary_text(d)) + "\n")
    return 0
