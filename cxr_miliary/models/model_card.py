"""``MODEL_CARD.md``: the human-readable side of a bundle's ``card.json``."""

from __future__ import annotations

from typing import Any

from .card import training_domain

PADCHEST_HOWTO = (
    "To train a real model: build a manifest from PadChest's published label table "
    "(`cxr-miliary manifest padchest --labels PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz "
    "--images-root /data/padchest --out manifest.csv`), cache it (`cxr-miliary prepare`), and run "
    "`python train.py fit --config configs/padchest_miliary.yaml` on a GPU workstation; the bundle is written at the end of `fit`."
)


def _f(v: Any, fmt: str = ".4f") -> str:
    return format(v, fmt) if isinstance(v, (int, float)) and v == v else "n/a"


def human_card(card: dict[str, Any]) -> str:
    """What the model is, how it was made, how good it measured, and what it is not."""
    m = card.get("metrics", {}).get("val_after_calibration", {})
    op = card.get("threshold_rule", {})
    data = card.get("training_data", {})
    domain = training_domain(data)
    synthetic = domain == "synthetic"
    lines = [f"# {card.get('name', 'cxr-miliary model')}", ""]
    if synthetic:
        lines += [
            "**Trained on synthetic phantoms only. Not validated on patients. Not a medical device.** "
            "It exists so the toolkit runs out of the box; its figures say nothing about real radiographs.",
            "",
        ]
    else:
        lines += ["**Research software, not a medical device.**", ""]
    lines += [
        f"- Task: {card.get('label', {}).get('definition', 'miliary / reticulonodular pattern')}",
        f"- Backbone: `{card['backbone']}`, head `{card.get('head', 'global')}`"
        f"{' (evidence pooled per cell of a 3 x 2 image grid, so one-lung or one-zone nodules are told from diffuse ones)' if card.get('head') in ('grid', 'zones') else ''}, input {card['preprocess']['image_size']} px, {card['preprocess']['channels']} channel(s)",
        f"- Reads: {_reads(card['preprocess'])}",
        f"- Training data: {data.get('description', 'see card.json')} — {data.get('n_train', '?')} training images "
        f"({data.get('positives_train', '?')} positive), {data.get('n_val', '?')} validation images ({data.get('positives_val', '?')} positive); "
        f"domain **{domain}** (sources: {', '.join(map(str, data.get('sources', []))) or 'not recorded'})",
        f"- Calibration: temperature {_f(card.get('temperature'), '.3f')} (fit on validation)",
        f"- Operating point: threshold {_f(card.get('threshold'))} by rule `{op.get('rule')}` (target {op.get('target')}); "
        f"validation sensitivity {_f(op.get('sensitivity'), '.3f')}, specificity {_f(op.get('specificity'), '.3f')}",
        f"- Validation AUROC {_f(m.get('auroc'))}, AUPRC {_f(m.get('auprc'))}, ECE {_f(m.get('ece'))}, Brier {_f(m.get('brier'))}",
        f"- Weights sha256: `{card.get('weights', {}).get('sha256', 'written on export')}`",
    ]
    ev = card.get("evaluation")
    if ev:
        lines += ["", f"## Measured quality: {ev.get('data', 'held-out data')}", ""]
        for key, value in ev.get("figures", {}).items():
            lines.append(f"- {key}: {value}")
    lines += ["", "## When the model says its answer is not reliable", ""]
    ref = card.get("reference")
    if ref:
        lines += [
            f"The bundle carries a reference of its training distribution (`{ref.get('file')}`, sha256 `{str(ref.get('sha256'))[:16]}…`): "
            f"the mean and Ledoit-Wolf-shrunk covariance of the pooled `{ref.get('layer')}` features of {ref.get('n_train')} training "
            f"images ({ref.get('data')}); an image whose Mahalanobis distance exceeds **{float(ref.get('limit', 0)):.2f}** (the "
            f"{float(ref.get('quantile', 0.99)):.0%} quantile of {ref.get('n_val')} validation images) is *out of distribution*.",
        ]
    else:
        lines += [
            "This bundle carries no training-distribution reference: the out-of-distribution check is not run (`cxr-miliary reference` adds one)."
        ]
    lines += [
        "",
        "Policy: an image that does not look like a frontal chest radiograph is refused (`not-chest`; `--force` scores it, marked). "
        "An image out of distribution, or whose grey levels look inverted (`polarity-suspect`), keeps its probability but is marked "
        "`reliable: false`; the text, the overlay and the DICOM report lead with NOT RELIABLE, and the differential and work-up are withheld.",
    ]
    lines += [
        "",
        "Training domain: a model trained only on synthetic phantoms (`training_data.domain: synthetic`) has never seen a real radiograph "
        "and cannot tell from its own features that a real film is foreign to it, so on any image that is not itself a phantom its "
        "result is `reliable: false` with the reason `synthetic-model`, and the differential and work-up are withheld. Bundles "
        "trained on real (or real and synthetic) data are governed by the out-of-distribution distance alone.",
    ]
    lines += [
        "",
        "Sites should re-tune the threshold on their own data (`cxr-miliary evaluate` reports the threshold that meets a target sensitivity).",
        "",
        PADCHEST_HOWTO,
    ]
    return "\n".join(lines) + "\n"


def _reads(pre: dict) -> str:
    """What the network reads, and what one input pixel spans on a 43 cm film."""
    size = int(pre["image_size"])
    if pre.get("region", "film") == "lungs":
        margin = float(pre.get("region_margin", 0.05))
        # the lung box's long side is about 76-87 % of a real film's (held-out real films), plus the margin
        lo, hi = (430 * share * (1 + 2 * margin) / size for share in (0.76, 0.87))
        return f"the box around both lung fields plus {margin:.0%} (lung-region input), at {size} px: about {lo:.2f}-{hi:.2f} mm per input pixel on a real 43 cm film"
    return f"the whole film at {size} px: {430 / size:.2f} mm per input pixel on a 43 cm film"
