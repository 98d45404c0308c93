"""``cxr-miliary predict IMAGE``: probability, Grad-CAM overlay, distribution, knowledge."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .main import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command."""
    p = sub.add_parser("predict", help="score one image: probability, Grad-CAM overlay, distribution",
                       description="Score one radiograph and print one JSON object (or --format text). "
                       "Research software, not a diagnosis.")
    p.add_argument("image")
    add_model_options(p)
    p.add_argument("--cam", default=None, metavar="OVERLAY.png", help="write the Grad-CAM overlay here")
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write the JSON here")
    p.add_argument("--threshold", type=float, default=None, help="override the bundle's decision threshold")
    p.add_argument("--cam-method", default="gradcam", choices=["gradcam", "gradcam++", "hirescam", "layercam", "eigencam"])
    p.add_argument("--no-cam", action="store_true", help="skip Grad-CAM (faster; no distribution)")
    p.add_argument("--force", action="store_true", help="score even if the acceptance checks reject the image")
    p.add_argument("--dicom-out", default=None, metavar="DIR", help="write a DICOM Secondary Capture overlay and a text SR for PACS (DICOM inputs; these carry the study's identifiers)")
    p.add_argument("--no-sr", action="store_true", help="with --dicom-out: the Secondary Capture only")
    p.add_argument("--format", default="json", choices=["json", "text"])
    p.set_defaults(func=run)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """The options every command that runs the model shares (bundle, device, precision, threads)."""
    p.add_argument("--weights", default=None, help="model bundle folder (default: the bundle shipped in weights/)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="forward pass: auto (default) = the fastest path measured to give fp32's answers on this machine "
                        "(checked once per model, cached), fp32, or bf16; Grad-CAM always runs in fp32")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def load_predictor(args: argparse.Namespace):  # noqa: ANN201 - Predictor imported lazily
    """The Predictor for ``--weights`` (or the default bundle); bundle problems are usage errors."""
    from ..inference import Predictor
    from ..models import BundleError

    try:
        if args.weights:
            return Predictor.load(args.weights, device=args.device, threads=args.threads, precision=args.precision)
        return Predictor.from_pretrained(device=args.device, threads=args.threads, precision=args.precision)
    except (BundleError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None


def _atomic_write(path: str, data: bytes) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def text_summary(d: dict) -> str:
    """A short human-readable summary of the prediction JSON."""
    lines = [f"probability {d['probability']:.3f} (threshold {d['threshold']:.3f}): {'POSITIVE' if d['positive'] else 'negative'} for the miliary / reticulonodular pattern"]
    dist = d.get("distribution")
    if dist:
        lines.append(f"distribution: {dist['pattern']} (right lung {dist['right']:.0%}, left lung {dist['left']:.0%}; involved: {', '.join(dist['involved_zones']) or 'none'})")
    for w in d.get("warnings", []):
        lines.append(f"warning: {w}")
    if d.get("differential"):
        lines.append("differential: " + "; ".join(f"{c['category']}: {', '.join(c['conditions'][:2])}" for c in d["differential"][:3]) + " ...")
    for r in d.get("recommendations") or []:
        lines.append(f"- {r}")
    lines.append(d["disclaimer"])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Predict, then write outputs only once everything succeeded."""
    from ..io import load_image

    predictor = load_predictor(args)
    rad = load_image(args.image, force=args.force)
    pred = predictor.predict(rad, cam=not args.no_cam, cam_method=args.cam_method, threshold=args.threshold)
    d = pred.to_dict()
    text = json.dumps(d, indent=2)
    if (args.cam or args.dicom_out) and pred.cam is None:
        raise UsageError("--cam and --dicom-out need the map; drop --no-cam")
    if args.cam or args.dicom_out:
        from ..explain import caption, overlay, save_png

        rgb = overlay(rad.pixels, pred.cam, pred.lung_mask, caption(pred.probability, pred.positive, d["distribution"]["pattern"]))
        if args.dicom_out:
            if rad.meta.source_format != "dicom":
                raise UsageError("--dicom-out needs a DICOM input (there is no study to attach the result to)")
            from ..outputs import write_dicom_results

            d["dicom_outputs"] = [str(p) for p in write_dicom_results(args.image, args.dicom_out, d, rgb, sr=not args.no_sr)]
            text = json.dumps(d, indent=2)
        if args.cam:
            save_png(args.cam, rgb)
    if args.json:
        _atomic_write(args.json, (text + "\n").encode())
    sys.stdout.write((text if args.format == "json" else text_summary(d)) + "\n")
    return 0

