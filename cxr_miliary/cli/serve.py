"""``cxr-miliary serve --port P``: a DICOM node that scores what it receives and sends SR + SC on."""

from __future__ import annotations

import argparse
import signal

from ._common import UsageError, add_model_options, non_negative_int, positive_int


def _port(value: str) -> int:
    n = positive_int(value)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    p = sub.add_parser(
        "serve",
        help="a DICOM node: C-STORE of CR/DX films in, scored as 'score' does, SR + SC out",
        description="Answer C-ECHO; accept C-STORE of CR and DX images (other SOP classes are refused with 0x0122), "
        "queue each on disk before acknowledging it, score it with the same code as 'score', write its TID 1500 SR and "
        "Secondary Capture into --out and, with --dest, send them there by C-STORE (retried with back-off). A restart "
        "resumes the queue: every acknowledged image gets exactly one result. Stop with Ctrl-C or SIGTERM.",
    )
    p.add_argument("--port", type=_port, required=True)
    p.add_argument("--ae-title", default="CXR-MILIARY", help="this node's AE title (default: %(default)s)")
    p.add_argument("--allow-ae", default=None, metavar="AE,...", help="only these calling AE titles may associate")
    p.add_argument("--out", default="cxr-miliary-node", help="queue, results.jsonl and DICOM results (default: %(default)s)")
    p.add_argument("--dest", default=None, metavar="HOST:PORT:AE", help="send each result's SR and SC here")
    p.add_argument("--workers", type=non_negative_int, default=2, help="decode workers of the scorer")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--sr", default="tid1500", choices=["tid1500", "basic"])
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until stopped."""
    from ..outputs.paths import OutputPathError, check_dir_target
    from ..pacs.node import Destination, ModelSpec, Node
    from ._common import load_predictor

    try:
        dest = Destination.parse(args.dest) if args.dest else None
        check_dir_target(args.out, "--out")
    except (ValueError, OutputPathError) as exc:
        raise UsageError(str(exc)) from None
    if len(args.ae_title) > 16 or not args.ae_title.strip():
        raise UsageError(f"--ae-title {args.ae_title!r}: an AE title has 1 to 16 characters")
    allow = [a.strip() for a in args.allow_ae.split(",") if a.strip()] if args.allow_ae else None
    load_predictor(args)  # the bundles are checked here, before the node listens; the scorer loads its own copy

    node = Node(
        ModelSpec(args.weights, args.device, args.precision, args.threads),
        args.out,
        port=args.port,
        ae_title=args.ae_title,
        allow_ae=allow,
        dest=dest,
        workers=args.workers,
        batch_size=args.batch_size,
        sr=args.sr,
    )
    try:
        node.start()
    except OSError as exc:
        raise UsageError(f"port {args.port}: cannot listen ({exc.strerror or exc})") from None
    signal.signal(signal.SIGTERM, lambda *_: node.stop())
    try:
        node.wait()
    except KeyboardInterrupt:
        node.stop()
    return 0
