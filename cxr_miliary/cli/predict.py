"""``cxr-miliary predict IMAGE``: probability, Grad-CAM overlay, distribution, knowledge."""

from __future__ import annotations

import argparse
import sys

from .. import strict_json
from ._common import CAM_METHODS, UsageError, add_model_options, atomic_write, check_outputs, load_predictor, unit_interval


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command."""
    p = sub.add_parser(
        "predict",
        help="score one image: probability, Grad-CAM overlay, distribution",
        description="Score one radiograph and print one JSON object (or --format text). Research software, not a diagnosis.",
    )
    p.add_argument("image")
    add_model_options(p)
    p.add_argument("--cam", default=None, metavar="OVERLAY.png", help="write the Grad-CAM overlay here")
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write the JSON here")
    p.add_argument("--threshold", type=unit_interval, default=None, help="override the bundle's decision threshold (0 to 1)")
    p.add_argument("--cam-method", default="gradcam", choices=CAM_METHODS)
    p.add_argument("--no-cam", action="store_true", help="skip Grad-CAM (faster; no distribution)")
    p.add_argument("--force", action="store_true", help="score even if the acceptance checks reject the image")
    p.add_argument(
        "--dicom-out",
        default=None,
        metavar="DIR",
        help="write a DICOM Secondary Capture overlay and a text SR for PACS (DICOM inputs; these carry the study's identifiers)",
    )
    p.add_argument("--no-sr", action="store_true", help="with --dicom-out: the Secondary Capture only")
    p.add_argument("--format", default="json", choices=["json", "text"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predict, then write outputs only once everything succeeded."""
    from ..explain import caption
    from ..inference.prediction import summary_text
    from ..io import load_image
    from ..outputs import overlay_rgb, preview, save_png

    if (args.cam or args.dicom_out) and args.no_cam:
        raise UsageError("--cam and --dicom-out need the map; drop --no-cam")
    check_outputs({"--json": args.json, "--cam": args.cam}, {"--dicom-out": args.dicom_out})
    rad = load_image(args.image, force=args.force)
    if args.dicom_out and rad.meta.source_format != "dicom":
        raise UsageError("--dicom-out needs a DICOM input (there is no study to attach the result to)")
    predictor = load_predictor(args)
    pred = predictor.predict(rad, cam=not args.no_cam, cam_method=args.cam_method, threshold=args.threshold)
    d = pred.to_dict()
    written: list = []
    try:  # all outputs or none: a failure part-way removes what was already written
        if args.cam or args.dicom_out:
            rgb = overlay_rgb(
                preview(rad.pixels), pred.cam, pred.lung_mask, caption(pred.probability, pred.positive, d["distribution"]["pattern"], pred.reliable)
            )
            if args.cam:
                written.append(save_png(args.cam, rgb))
            if args.dicom_out:
                from ..outputs import write_dicom_results

                dicoms = write_dicom_results(args.image, args.dicom_out, d, rgb, sr=not args.no_sr)
                written += dicoms
                d["dicom_outputs"] = [str(p) for p in dicoms]
        text = strict_json.dumps(d, indent=2)
        if args.json:
            written.append(atomic_write(args.json, (text + "\n").encode()))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    sys.stdout.write((text if args.format == "json" else summary_text(d)) + "\n")
    return 0
