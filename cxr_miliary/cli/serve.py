"""``cxr-miliary serve --port P``: a DICOM node that scores what it receives and sends SR + SC on."""

from __future__ import annotations

import argparse
import signal

from ._common import UsageError, add_model_options, non_negative_float, non_negative_int, positive_float, positive_int


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
        description="Answer C-ECHO; accept C-STORE of CR and DX images, and of Secondary Capture images whose pixels are a "
        "frontal chest film (other SOP classes and non-chest SC are refused with 0x0122; this tool's own SR and SC, routed "
        "back by a PACS, are acknowledged and dropped), queue each on disk before acknowledging it, score it with the same "
        "code as 'score', write its TID 1500 SR and Secondary Capture into --out and send them to --dest by C-STORE or to "
        "--dest-web by STOW-RS (retried with back-off). A restart resumes the queue: every acknowledged image gets exactly "
        "one result. Stop with Ctrl-C or SIGTERM.",
    )
    p.add_argument("--port", type=_port, required=True)
    p.add_argument(
        "--host",
        default=None,
        help="the address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for every interface - with --allow-ae)",
    )
    p.add_argument("--ae-title", default="CXR-MILIARY", help="this node's AE title; callers must call it by this title (default: %(default)s)")
    p.add_argument("--allow-ae", default=None, metavar="AE,...", help="only these calling AE titles may associate")
    p.add_argument("--out", default="cxr-miliary-node", help="queue, results.jsonl and DICOM results (default: %(default)s)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dest", default=None, metavar="HOST:PORT:AE", help="send each result's SR and SC here by C-STORE")
    where.add_argument(
        "--dest-web",
        default=None,
        metavar="URL",
        help="send each result's SR and SC to this DICOMweb service by STOW-RS (e.g. http://pacs:8042/dicom-web)",
    )
    p.add_argument("--keep-dicom", action="store_true", help="keep each SR and SC in --out/dicom after the destination took it")
    p.add_argument(
        "--status-port",
        type=_port,
        default=None,
        metavar="P",
        help="serve a read-only status page (/), /status.json and /review of the results on this HTTP port",
    )
    p.add_argument("--status-host", default="127.0.0.1", metavar="H", help="the status page's address (default: %(default)s, this machine only)")
    p.add_argument("--workers", type=non_negative_int, default=2, help="decode workers of the scorer")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--sr", default="tid1500", choices=["tid1500", "basic"])
    limits = p.add_argument_group("limits (what one caller, one association, one film may take)")
    limits.add_argument("--max-associations", type=positive_int, default=16, help="associations at once, all callers (default: %(default)s)")
    limits.add_argument(
        "--max-per-caller", type=positive_int, default=4, help="associations at once from one address and AE title (default: %(default)s)"
    )
    limits.add_argument(
        "--association-lifetime", type=positive_float, default=3600.0, metavar="S", help="longest an association stays open (default: %(default)g s)"
    )
    limits.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="an association without a C-STORE this long is ended; echoes do not count (default: %(default)g s)",
    )
    limits.add_argument("--max-film-mb", type=positive_float, default=128.0, help="larger films are refused 0xA700 (default: %(default)g)")
    limits.add_argument(
        "--disk-reserve-mb",
        type=non_negative_float,
        default=64.0,
        help="free space kept on --out beyond what queued films' results take (default: %(default)g)",
    )
    add_model_options(p)
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> dict:
    """Every setting checked and parsed before anything starts (UsageError, exit 2, otherwise)."""
    from ..outputs.paths import OutputPathError, check_dir_target
    from ..pacs import settings

    try:
        check_dir_target(args.out, "--out")
        return {
            "host": settings.host(args.host) if args.host is not None else settings.DEFAULT_HOST,
            "ae_title": settings.ae_title(args.ae_title, "--ae-title"),
            "allow_ae": settings.allow_list(args.allow_ae) if args.allow_ae is not None else None,
            "dest": settings.Destination.parse(args.dest) if args.dest else settings.web_url(args.dest_web) if args.dest_web else None,
            "limits": settings.Limits(
                max_associations=args.max_associations,
                per_caller=args.max_per_caller,
                lifetime_s=args.association_lifetime,
                idle_s=args.idle_timeout,
                max_film_bytes=int(args.max_film_mb * 2**20),
                reserve_bytes=int(args.disk_reserve_mb * 2**20),
            ),
        }
    except (ValueError, OutputPathError) as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Serve until stopped; exit 1 when the scorer kept dying."""
    try:
        import pynetdicom  # noqa: F401

        if args.dest_web:
            import dicomweb_client  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"serve needs {exc.name}: pip install 'cxr-miliary[pacs]'") from None
    from ..pacs.node import ModelSpec, Node
    from ..pacs.queue import NodeBusy
    from ._common import load_predictor

    settings = _settings(args)
    load_predictor(args)  # the bundles are checked here, before the node listens; the scorer loads its own copy
    node = Node(
        ModelSpec(args.weights, args.device, args.precision, args.threads),
        args.out,
        port=args.port,
        workers=args.workers,
        batch_size=args.batch_size,
        sr=args.sr,
        keep_dicom=args.keep_dicom,
        **settings,
    )
    try:
        node.start()
    except NodeBusy as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{settings['host']}:{args.port}: cannot listen ({exc.strerror or exc})") from None
    status = None
    if args.status_port is not None:
        from ..pacs.status import StatusServer

        try:
            status = StatusServer(node, args.status_port, args.status_host).start()
        except OSError as exc:
            node.stop()
            raise UsageError(f"{args.status_host}:{args.status_port}: cannot serve the status page ({exc.strerror or exc})") from None
    signal.signal(signal.SIGTERM, lambda *_: node.stop())
    try:
        return node.wait()
    except KeyboardInterrupt:
        node.stop()
        return node.exit_code
    finally:
        if status is not None:
            status.stop()
