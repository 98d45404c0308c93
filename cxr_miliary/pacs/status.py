"""``serve --status-port``: a read-only page and a JSON endpoint saying what the node is doing.

- ``/`` - the page (drawn on the server, refreshed every 5 s; no script);
- ``/status.json`` - the same figures as JSON;
- ``/review`` - the review page of the node's results (no pictures: the node keeps DICOM, not images).

The standard library's threaded HTTP server, on 127.0.0.1 unless told otherwise. GET and
HEAD only: every other method is answered 405 and changes nothing. Each connection has
its own thread and a socket timeout, so a slow or stalled client holds only its own
thread; a request line or headers over the standard library's limits are answered 414 /
431. Nothing here touches the queue or the journals but to read them. No identifier is
on either page: results are named by the first characters of their key.
"""

from __future__ import annotations

import html
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..scoring.table import read_jsonl

log = logging.getLogger(__name__)

#: Seconds a connection may stay silent before it is closed (a stalled client holds one thread this long).
CLIENT_TIMEOUT_S = 10.0
#: The page refreshes itself this often (seconds).
REFRESH_S = 5
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
}


def node_status(node: Any) -> dict[str, Any]:
    """What the node is doing now: its queue, scoring, delivery, disk; counts since it started."""
    state, now = node.state, time.time()
    queued, queued_bytes = state.queued_bytes()
    taken: set[str] = set()
    for r in read_jsonl(state.attempts):  # what the scorer has taken since its last clean stop
        if r.get("stop"):
            taken.clear()
        elif r.get("key"):
            taken.add(str(r["key"]))
    scoring = sum(1 for p in state.pending() if p.stem in taken)
    whole, sent, failed = state.delivery()
    dead = list(read_jsonl(state.failed))
    recent = [t for t in list(node.recent) if now - t <= 3600]
    window_min = max(1.0, min(60.0, (now - node.started) / 60))
    transport = node.sender.transport
    problem = node.sender.problem
    return {
        "node": {
            "ae_title": node.ae_title,
            "listening": f"{node.host}:{node.port}",
            "up_s": round(now - node.started),
            "scorer": node.scorer_state(),
            "accepting": node.accepting(),
        },
        "since_start": {k: getattr(node.counts, k) for k in ("received", "refused", "looped", "scored")},
        "queue": {"waiting": max(0, queued - scoring), "being_scored": scoring, "bytes": queued_bytes},
        "results": {
            "total": node.results_total,
            "last_hour": len(recent),
            "films_per_minute": round(len(recent) / window_min, 2),
        },
        "delivery": {
            "destination": transport.name if transport is not None else None,
            "reachable": None if transport is None else not problem,
            "problem": problem,
            "next_try_s": round(max(0.0, node.backoff_until - now), 1) if problem else None,
            "objects_waiting": node.sender.pending(),
            "objects_delivered": len(sent) + 2 * len(whole),
            "failing": node.sender.failing(),
            "dead_letters": len(failed),
            "last_dead_letters": [{"result": str(d.get("key", ""))[:8], "reason": str(d.get("last", "")), "time": d.get("time")} for d in dead[-5:]],
        },
        "disk": {"free_bytes": state.free_bytes(), "reserve_bytes": node.limits.reserve_bytes},
    }


def _table(title: str, rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<h2>{html.escape(title)}</h2><table>{body}</table>"


def status_page(s: dict[str, Any]) -> str:
    """The page of :func:`node_status`'s figures (every value escaped)."""
    d, q, r, n = s["delivery"], s["queue"], s["results"], s["node"]
    dest = "none (results stay in --out)" if d["destination"] is None else d["destination"]
    reach = "" if d["reachable"] is None else "yes" if d["reachable"] else f"no: {d['problem']} (next try in {d['next_try_s']} s)"
    parts = [
        _table(
            "node",
            [
                ("AE title", n["ae_title"]),
                ("listening on", n["listening"]),
                ("up for", f"{n['up_s']} s"),
                ("scorer", n["scorer"]),
                ("taking films", "yes" if n["accepting"] else "no"),
            ],
        ),
        _table("queue", [("waiting", q["waiting"]), ("being scored", q["being_scored"]), ("queued bytes", q["bytes"])]),
        _table("results", [("in all", r["total"]), ("in the last hour", r["last_hour"]), ("films per minute (last hour)", r["films_per_minute"])]),
        _table("since start", list(s["since_start"].items())),
        _table(
            "delivery",
            [
                ("destination", dest),
                ("reachable", reach),
                ("objects waiting", d["objects_waiting"]),
                ("objects delivered", d["objects_delivered"]),
                ("dead letters", d["dead_letters"]),
            ],
        ),
    ]
    if d["failing"]:
        rows = "".join(
            f"<tr><td>{html.escape(f['result'])}</td><td>{f['tries']} of {f['of']}</td><td>{html.escape(f['reason'])}</td><td>{f['next_try_s']} s</td></tr>"
            for f in d["failing"]
        )
        parts.append(f"<h2>failing</h2><table><tr><th>result</th><th>tries</th><th>why</th><th>next try in</th></tr>{rows}</table>")
    if d["last_dead_letters"]:
        rows = "".join(
            f"<tr><td>{html.escape(x['result'])}</td><td>{html.escape(x['reason'])}</td><td>{html.escape(str(x['time']))}</td></tr>"
            for x in d["last_dead_letters"]
        )
        parts.append(f"<h2>last dead letters</h2><table>{rows}</table>")
    parts.append(
        _table("disk", [("free", f"{s['disk']['free_bytes'] / 2**30:.1f} GiB"), ("reserve", f"{s['disk']['reserve_bytes'] / 2**30:.1f} GiB")])
    )
    style = "body{font:14px system-ui,sans-serif;margin:16px}table{border-collapse:collapse;margin-bottom:8px}th,td{border:1px solid #ccd;padding:3px 10px;text-align:left}h2{font-size:15px;margin:14px 0 4px}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_S}">'
        f"<title>cxr-miliary node</title><style>{style}</style></head><body><h1>cxr-miliary node</h1>"
        f'<p><a href="review">review the results</a> · <a href="status.json">status.json</a></p>{"".join(parts)}</body></html>'
    )


class _Handler(BaseHTTPRequestHandler):
    server_version = "cxr-miliary-status"
    sys_version = ""
    timeout = CLIENT_TIMEOUT_S
    node: Any = None
    review_cache: dict[str, Any] = {}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        log.debug("status page: " + format, *args)

    def _send(self, code: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in {**HEADERS, **(extra or {})}.items():
            if v:  # "" drops a default (the review page brings its own policy)
                self.send_header(k, v)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        try:
            if path == "/":
                self._send(200, status_page(node_status(self.node)).encode(), "text/html; charset=utf-8")
            elif path == "/status.json":
                self._send(200, json.dumps(node_status(self.node), indent=1).encode(), "application/json")
            elif path == "/review":
                self._send(200, self._review(), "text/html; charset=utf-8", {"Content-Security-Policy": ""})
            else:
                self._send(404, b"not found\n", "text/plain")
        except Exception as exc:  # the page fails, the node does not
            log.warning("status page: %s failed (%s)", path, type(exc).__name__)
            self._send(500, b"the status could not be read now\n", "text/plain")

    do_HEAD = do_GET

    def _refuse(self) -> None:
        self._send(405, b"read-only: GET and HEAD only\n", "text/plain", {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    def _review(self) -> bytes:
        """The review page of results.jsonl, made again only when the file grew."""
        from ..review.page import render_page
        from ..review.rows import page_row, read_rows

        results = self.node.state.results
        size = results.stat().st_size if results.exists() else 0
        cache = self.review_cache
        if cache.get("size") != size:
            rows = [page_row(i, r) for i, r in enumerate(read_rows(results))] if size else []
            for r in rows:
                r["ov"] = ""
            page = render_page(rows, f"cxr-miliary node: {len(rows)} results", note="The node keeps DICOM results, not pictures.", images="'none'")
            cache.update(size=size, body=page.encode())
        return cache["body"]


class StatusServer:
    """The status page of a running node, served from a thread of its own.

    Args:
        node: The :class:`~cxr_miliary.pacs.node.Node`.
        port: TCP port (0: any free one).
        host: The address (default: this machine only).
    """

    def __init__(self, node: Any, port: int, host: str = "127.0.0.1") -> None:
        handler = type("Handler", (_Handler,), {"node": node, "review_cache": {}})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True  # a stalled client never keeps the node from stopping
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="cxr-miliary-status", daemon=True)

    @property
    def url(self) -> str:
        """Where it answers."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> StatusServer:
        """Serve (returns at once)."""
        self._thread.start()
        log.info("status page on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
