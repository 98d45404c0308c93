"""A self-contained ``report.html``: metrics, subgroups, figures (embedded), model card summary."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd}
.warn{background:#fff3cd;padding:8px;border:1px solid #e0c060}
"""

# The page marks itself once every image has decoded, so a headless browser test can
# check that all figures really render.
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.length > 0 && imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-ok', ok ? 'true' : 'false');
  document.body.setAttribute('data-image-count', String(imgs.length));
});
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "—" if v != v else f"{v:.3f}"
    return html.escape(str(v))


def _metrics_table(metrics: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v['value'])}</td><td>{_fmt(v['ci_low'])} – {_fmt(v['ci_high'])}</td></tr>"
        for k, v in metrics["metrics"].items()
    )
    return f"<table><tr><th>metric</th><th>value</th><th>95 % CI (bootstrap)</th></tr>{rows}</table>"


def _df_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def _integrity_line(rates: dict[str, Any]) -> str:
    def pct(v: Any) -> str:
        return "n/a (no reference in this bundle)" if v is None else f"{v:.1%}"

    return (
        f"<p>Input integrity: in distribution {pct(rates.get('in_distribution_rate'))}, reliable {pct(rates.get('reliable_rate'))}; "
        f"{rates.get('rejected_not_chest', 0)} refused as not a frontal chest film. Results on images out of distribution "
        "are not reliable.</p>"
    )


def _label_sources(by_source: dict[str, Any] | None, kept: str) -> str:
    """Metrics for all positives and for physician-labelled positives alone, side by side."""
    if not by_source:
        return ""
    rows = []
    for source, part in by_source.items():
        m = part["metrics"]
        a = m["auroc"]
        rows.append(
            {
                "positives": "all" if source == "all" else "physician-labelled only",
                "n": part["n"],
                "positive images": part["positives"],
                "AUROC (95% CI)": f"{_fmt(a['value'])} ({_fmt(a['ci_low'])}-{_fmt(a['ci_high'])})",
                "sensitivity": _fmt(m["sensitivity"]["value"]),
                "specificity": _fmt(m["specificity"]["value"]),
            }
        )
    note = (
        "<p>Positives labelled by a network reading the reports (PadChest's <code>RNN_model</code>) measure agreement with that "
        "network as much as with the films; the physician-labelled row is the one to trust.</p>"
    )
    kept_note = "" if kept == "all" else f"<p>This evaluation kept only {html.escape(kept)}-labelled positives.</p>"
    return "<h2>By label source</h2>" + note + kept_note + _df_table(pd.DataFrame(rows))


def _audit(audit: dict[str, Any] | None) -> str:
    """The shortcut audit's sentences (its figure is among the figures)."""
    if not audit:
        return ""
    items = "".join(f"<li class='{'warn' if v.get('flagged') else ''}'>{html.escape(v['sentence'])}</li>" for v in audit["questions"].values())
    return f"<h2>Shortcut audit</h2><p>Can the label be told from what is not the pattern? ({audit['films']} films)</p><ul>{items}</ul>"


def write_report(
    out: Path,
    *,
    metrics: dict[str, Any],
    subgroups: pd.DataFrame,
    figures: dict[str, Path],
    card: dict[str, Any],
    localisation: dict[str, Any] | None,
) -> Path:
    """Write ``report.html`` with every figure embedded as a data URI."""
    t = metrics["threshold_for_target_sensitivity"]
    loc = ""
    if localisation:
        loc = "<h2>Localisation (ground-truth masks)</h2>" + _df_table(pd.DataFrame([{"measure": k, "value": v} for k, v in localisation.items()]))
    train = card.get("training_data", {})
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>cxr-miliary evaluation</title>",
        f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>",
        "<h1>cxr-miliary evaluation report</h1>",
        "<p class='warn'>Research software, not a medical device. These figures describe this data set only.</p>",
        f"<h2>Model</h2><p><b>{html.escape(str(card.get('name')))}</b> — backbone <code>{html.escape(str(card.get('backbone')))}</code>, "
        f"input {card['preprocess']['image_size']} px; sha256 <code>{html.escape(str(card['weights']['sha256']))}</code>; "
        f"trained on: {html.escape(str(train.get('description', 'see card')))}; threshold {card.get('threshold', 0.5):.4f} "
        f"({html.escape(str(card.get('threshold_rule', {}).get('rule')))} rule).</p>",
        f"<h2>Metrics</h2><p>n = {metrics['n']} ({metrics['positives']} positive, {metrics['errors']} unreadable/rejected) at the bundle's threshold {metrics['threshold']:.4f}.</p>",
        _metrics_table(metrics),
        _integrity_line(metrics.get("integrity") or {}),
        _label_sources(metrics.get("by_label_source"), str(metrics.get("positives_kept", "all"))),
        _audit(metrics.get("audit")),
        f"<p>Threshold that meets sensitivity ≥ {t['target']:.2f} on this data: <b>{t['threshold']:.4f}</b> (sensitivity {t['sensitivity']:.3f}, specificity {t['specificity']:.3f}). Sites should re-tune on local data.</p>",
        "<h2>Figures</h2>",
        *[f"<h3>{html.escape(name)}</h3>{_img(path, name)}" for name, path in figures.items()],
        loc,
        "<h2>Subgroups</h2>",
        _df_table(subgroups),
        "</body></html>",
    ]
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
