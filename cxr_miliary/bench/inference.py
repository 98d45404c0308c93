"""``cxr-miliary bench``: inference throughput, latency, memory and faithfulness on this machine.

Everything is measured in one run on the same images, so the ratios are comparable.
Benchmarks, not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..inference.fastpath import machine
from ..io import load_image
from ..metrics import agreement, auroc

SCORE_INPUTS = 128


def _timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat


def _score_rate(predictor: Any, paths: list[str], batch_size: int, workers: int) -> float:
    t = time.perf_counter()
    n = sum(1 for _ in predictor.iter_score(paths, batch_size=batch_size, num_workers=workers))
    return n / (time.perf_counter() - t)


def _forward_rate(predictor: Any, tensors: np.ndarray, batch_size: int) -> float:
    predictor.runtime.logits(tensors[:batch_size])  # warm-up
    t = time.perf_counter()
    for i in range(0, len(tensors), batch_size):
        predictor.runtime.logits(tensors[i : i + batch_size])
    return len(tensors) / (time.perf_counter() - t)


def _peak_rss_mb(cmd: list[str]) -> float:
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
    return float(out.stdout.strip() or 0) / 1024


def faithfulness(fp32: Any, fast: Any, paths: list[str], labels: np.ndarray) -> dict[str, float]:
    """How far the fast path's answers are from fp32's: probabilities, AUROC, decisions, CAMs."""
    rads = [load_image(p) for p in paths]
    x = np.stack([fp32.inputs(r) for r in rads])
    p32 = fp32.probability(np.concatenate([fp32.runtime.logits(x[i : i + 8]) for i in range(0, len(x), 8)]))
    pfast = fast.probability(np.concatenate([fast.runtime.logits(x[i : i + 8]) for i in range(0, len(x), 8)]))
    agree = agreement(p32, pfast, fp32.threshold)
    corr = []
    for r in rads[:8]:
        a, b = fp32.predict(r).cam, fast.predict(r).cam
        if a.std() > 0 and b.std() > 0:
            corr.append(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]))
    out = {
        "max_abs_prob_diff": agree["max_abs_prob_diff"],
        "decision_flips": agree["flips"] / max(len(p32), 1),
        "cam_correlation_min": float(min(corr)) if corr else float("nan"),
    }
    if 0 < labels.sum() < len(labels):
        out["auroc_fp32"], out["auroc_fast"] = auroc(p32, labels), auroc(pfast, labels)
    return out


def eager_baseline(weights: str | None) -> Any:
    """The peers' baseline: fp32 eager, default memory layout, whole batches (its own copy of the model)."""
    from ..inference.runtime import TorchBackend
    from ..models import load_bundle
    from ..predictor import Predictor

    model, card = load_bundle(weights) if weights else load_bundle(_default_bundle())
    return Predictor(
        model,
        card,
        backend=TorchBackend(model, "cpu", "fp32", channels_last=False, micro_batch=0, feature_layer=card.cam_target_layer),
        bundle_dir=weights,
    )


def _default_bundle() -> Any:
    from ..models.locate import find_default_bundle

    return find_default_bundle()


def _paths_table(
    log: Callable[[str], Any],
    res: dict[str, Any],
    name: str,
    pred: Any,
    tensors: np.ndarray,
    paths: list[str],
    batch_size: int,
    workers: int,
    cam: bool,
) -> None:
    """Forward, score and (optionally) score-with-CAM rates for one numeric path."""
    fwd = _forward_rate(pred, tensors, batch_size)
    sc = _score_rate(pred, paths, batch_size, workers)
    res[f"{name}_forward_img_s"], res[f"{name}_score_img_s"] = fwd, sc
    line = f"  {name:14s} forward {fwd:6.1f} img/s | score {sc:6.1f} img/s ({sc / fwd:4.0%} of forward)"
    if cam:
        t = time.perf_counter()
        k = sum(1 for _ in pred.iter_score(paths, batch_size=batch_size, num_workers=workers, cam=True))
        res[f"{name}_score_cam_img_s"] = k / (time.perf_counter() - t)
        line += f" | score with Grad-CAM {res[f'{name}_score_cam_img_s']:5.1f} img/s"
    log(line)


def run_bench(
    weights: str | None,
    *,
    n: int = 32,
    size: int = 2048,
    batch_size: int = 16,
    workers: int = 2,
    memory: bool = True,
    score_inputs: int = SCORE_INPUTS,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Measure and return every figure (also logged line by line)."""
    from ..phantom import generate_phantoms
    from ..predictor import Predictor

    load = (lambda **kw: Predictor.load(weights, **kw)) if weights else (lambda **kw: Predictor.from_pretrained(**kw))
    eager, fp32, auto = eager_baseline(weights), load(precision="fp32"), load(precision="auto")
    auto_name = auto.runtime.name
    res: dict[str, Any] = {
        "cpu_threads": torch.get_num_threads(),
        "cpu": machine("cpu"),
        "auto_path": auto_name,
        "auto_check": auto.fastpath,
        "model": fp32.model_info["name"],
        "input": fp32.preprocess.image_size,
    }
    with tempfile.TemporaryDirectory() as tmp:
        man = generate_phantoms(n, Path(tmp) / "ph", seed=9090, size=size, formats=("dcm",), workers=max(1, workers))
        import pandas as pd

        rows = pd.read_csv(man)
        paths = [str(Path(tmp) / "ph" / p) for p in rows["path"]]
        labels = rows["label"].to_numpy()
        # score and the predict loop run over >= score_inputs inputs (the files repeated), so
        # the decode pipeline's start-up is spread as over an archive, not over 32 files
        many = (paths * -(-score_inputs // n))[: max(n, score_inputs)]
        log(
            f"{n} phantom DICOMs at {size}², model {res['model']} at {res['input']}², batch {batch_size}, {workers} decode workers, "
            f"{res['cpu_threads']} torch threads; auto chose {auto_name}"
        )
        if auto.fastpath and auto.fastpath.get("figures"):
            log(
                "  auto's check on its probe phantoms: "
                + "; ".join(
                    f"{k} {v['img_s']:.1f} img/s, max |Δp| {v['max_abs_prob_diff']:.4f}, {v['flips']} flips"
                    for k, v in auto.fastpath["figures"].items()
                )
            )
        t = time.perf_counter()
        tensors = np.stack([fp32.inputs(load_image(p)) for p in paths])
        res["decode_ms"] = (time.perf_counter() - t) / n * 1000
        log(f"  decode + resize in one process: {res['decode_ms']:.0f} ms per image")
        _paths_table(log, res, "fp32-eager", eager, tensors, many, batch_size, workers, cam=True)
        _paths_table(log, res, "fp32", fp32, tensors, many, batch_size, workers, cam=False)
        _paths_table(log, res, f"auto={auto_name}", auto, tensors, many, batch_size, workers, cam=True)
        res["auto_score_img_s"] = res[f"auto={auto_name}_score_img_s"]
        res["auto_vs_eager_score"] = res["auto_score_img_s"] / res["fp32-eager_score_img_s"]
        log(
            f"  auto vs fp32 eager, end-to-end score without CAM: {res['auto_vs_eager_score']:.2f}x; "
            f"with CAM: {res[f'auto={auto_name}_score_cam_img_s'] / res['fp32-eager_score_cam_img_s']:.2f}x"
        )
        _onnx_rows(log, res, load, fp32, tensors, paths, labels, batch_size, workers, many)
        res.update(machine_bound(load, paths, res, auto_name, log))
        t_loop = _timed(lambda: [auto.predict(p, cam=False) for p in many])
        res["predict_loop_img_s"] = len(many) / t_loop
        log(
            f"  predict() loop, {auto_name}, no CAM: {res['predict_loop_img_s']:6.1f} img/s -> score is {res['auto_score_img_s'] / res['predict_loop_img_s']:.2f}x faster"
        )
        rad = load_image(paths[0])
        auto.predict(rad)
        plain = _timed(lambda: auto.predict(rad, cam=False), 3)
        withcam = _timed(lambda: auto.predict(rad, cam=True), 3)
        res["predict_latency_s"], res["predict_cam_latency_s"] = plain, withcam
        log(
            f"  predict latency (one {size}² image, {auto_name}): {plain * 1000:.0f} ms; with Grad-CAM {withcam * 1000:.0f} ms ({withcam / plain:.1f}x)"
        )
        eager_maps = copy.copy(auto)
        eager_maps.maps = "eager"
        eager_maps.predict(rad)
        eager_cam = _timed(lambda: eager_maps.predict(rad, cam=True), 3)
        res["predict_eager_cam_latency_s"] = eager_cam
        res["cam_over_plain"] = withcam / plain
        log(
            f"  maps: {auto.cam_path} path {withcam / plain:.2f}x predict without the map; grad-cam's eager path {eager_cam * 1000:.0f} ms "
            f"({eager_cam / plain:.2f}x); score with maps / without: {res[f'auto={auto_name}_score_cam_img_s'] / res['auto_score_img_s']:.2f}"
        )
        res["map_faithfulness"] = map_faithfulness(auto, eager_maps, log=log)
        res.update(_integrity_cost(auto, rad, plain))
        log(
            f"  integrity per image: lung fields {res['lung_fields_ms']:.1f} ms (needed by the map anyway), frontal-chest check "
            f"{res['chest_check_ms']:.1f} ms, out-of-distribution distance {res['ood_ms']:.2f} ms = "
            f"{(res['chest_check_ms'] + res['ood_ms']) / (plain * 1000):.1%} of predict without the map"
        )

        res.update(cold_start(paths[0], weights, log))
        fast = auto if auto_name != "torch-fp32" else load(precision="bf16")
        f = faithfulness(fp32, fast, paths, labels)
        res["faithfulness"] = {**f, "path": fast.runtime.name}
        log(
            f"  faithfulness {res['faithfulness']['path']} vs fp32: max |Δp| {f['max_abs_prob_diff']:.4f}, decision flips {f['decision_flips']:.1%}, "
            f"CAM corr ≥ {f['cam_correlation_min']:.3f}" + (f", AUROC {f['auroc_fp32']:.4f} vs {f['auroc_fast']:.4f}" if "auroc_fp32" in f else "")
        )
        if memory:
            res.update(_memory(log, tmp, weights, workers, batch_size))
    return res


def machine_bound(
    load: Callable[..., Any], paths: list[str], res: dict[str, Any], auto_name: str, log: Callable[[str], Any] = print
) -> dict[str, Any]:
    """What this machine's cores allow for ``score``, every per-image step counted, and how close ``score`` comes.

    Each step of one image is timed alone, on one thread, over the files: decoding, the
    lung fields, the frontal-chest check, the network input, the forward pass (the auto
    runtime on one thread), and with maps the explanation and the files ``--cam-dir``
    writes. The bound is the cores divided by the sum of those core-seconds.
    """
    import os
    import tempfile as tf

    from ..explain import lung_fields
    from ..inference.chest_check import check_frontal_chest
    from ..inference.decoding import decode
    from ..inference.result import complete
    from ..outputs.files import Outputs

    one = load(precision="auto", threads=1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    rads = [load_image(p) for p in paths]
    n = len(rads)
    parts = {
        "decode": _timed(lambda: [load_image(p) for p in paths]) / n,
        "lung_fields": _timed(lambda: [lung_fields(r.pixels) for r in rads]) / n,
    }
    fields = [lung_fields(r.pixels) for r in rads]
    parts["chest_check"] = (
        _timed(
            lambda: [
                check_frontal_chest(r.pixels, lambda px, f=f, r=r: f if px is r.pixels else lung_fields(px))
                for r, f in zip(rads, fields, strict=True)
            ]
        )
        / n
    )
    parts["network_input"] = _timed(lambda: [one.inputs(r) for r in rads]) / n
    x = np.stack([one.inputs(r) for r in rads])
    one.runtime.forward(x[:1])
    parts["forward"] = _timed(lambda: [one.runtime.forward(x[i : i + 1]) for i in range(n)]) / n
    decoded = [decode(p, one.scorer.view, index=i, preview_side=1024) for i, p in enumerate(paths)]
    results: list[Any] = []
    t_maps = _timed(lambda: results.extend(complete(one.scorer, [d], maps=True) for d in decoded)) / n
    parts["maps"] = max(0.0, t_maps - parts["forward"])
    with tf.TemporaryDirectory() as tmp:
        out = Outputs(cam_dir=Path(tmp))
        parts["map_files"] = _timed(lambda: [out.write(r[0]) for r in results]) / n
    plain = sum(v for k, v in parts.items() if k not in ("maps", "map_files"))
    bound, bound_maps = cores / plain, cores / sum(parts.values())
    score, score_maps = res.get(f"auto={auto_name}_score_img_s"), res.get(f"auto={auto_name}_score_cam_img_s")
    log(
        f"  the machine's bound for score ({cores} cores; per image, one thread each): "
        + ", ".join(f"{k.replace('_', ' ')} {v * 1000:.1f} ms" for k, v in parts.items())
        + f" -> {bound:.1f} img/s without maps, {bound_maps:.1f} with maps written"
        + (f"; score reaches {score / bound:.0%}" if score else "")
        + (f" (with maps computed, not written: {score_maps / bound_maps:.0%} of the maps-written bound)" if score_maps else "")
    )
    lung_net = _lung_batching(log)
    return {
        **lung_net,
        "bound_parts_ms": {k: v * 1000 for k, v in parts.items()},
        "bound_img_s": bound,
        "bound_maps_img_s": bound_maps,
        "score_of_bound": (score or 0) / bound,
    }


def _lung_batching(log: Callable[[str], Any], batch: int = 8, repeat: int = 5) -> dict[str, float]:
    """The lung network alone (as score's workers run it, one thread), one image at a time against a batch.

    Whether running the lung fields batched would raise ``score``'s bound is decided by
    this figure on the machine at hand, not assumed.
    """
    from ..explain.lungs import default_segmenter

    seg = default_segmenter()
    x = np.random.default_rng(0).random((batch, 1, seg.size, seg.size), dtype=np.float32)
    seg.run(x[:1])
    seg.run(x)
    one = _timed(lambda: [seg.run(x[i : i + 1]) for i in range(batch)], repeat) / batch
    many = _timed(lambda: seg.run(x), repeat) / batch
    log(f"  lung network alone, per image: one at a time {one * 1000:.1f} ms, in a batch of {batch} {many * 1000:.1f} ms ({one / many:.2f}x)")
    return {"lung_net_one_ms": one * 1000, "lung_net_batched_ms": many * 1000}


def _onnx_rows(
    log: Callable[[str], Any],
    res: dict[str, Any],
    load: Callable[..., Any],
    fp32: Any,
    tensors: np.ndarray,
    paths: list[str],
    labels: np.ndarray,
    batch_size: int,
    workers: int,
    many: list[str],
) -> None:
    for backend in ("onnxruntime", "onnxruntime-int8"):
        key = {"onnxruntime": "onnx", "onnxruntime-int8": "onnx_int8"}[backend]
        if key not in fp32.card:
            log(f"  {backend}: no {key} export in this bundle (cxr-miliary export --weights B --onnx B/model.onnx [--int8])")
            continue
        ort_p = load(backend=backend)
        fwd, sc = _forward_rate(ort_p, tensors, batch_size), _score_rate(ort_p, many, batch_size, workers)
        res[f"{backend}_forward_img_s"], res[f"{backend}_score_img_s"] = fwd, sc
        p_ref = fp32.probability(fp32.runtime.logits(tensors))
        p_ort = ort_p.probability(ort_p.runtime.logits(tensors))
        extra = ""
        if 0 < labels.sum() < len(labels):
            d_auc = auroc(p_ref, labels) - auroc(p_ort, labels)
            res[f"{backend}_auroc_drop"] = d_auc
            extra = f", AUROC drop {d_auc:+.4f}"
        res[f"{backend}_max_abs_prob_diff"] = float(np.abs(p_ref - p_ort).max())
        log(f"  {backend:14s} forward {fwd:6.1f} img/s | score {sc:6.1f} img/s; max |Δp| {res[f'{backend}_max_abs_prob_diff']:.4f}{extra}")


def _memory(log: Callable[[str], Any], tmp: str, weights: str | None, workers: int, batch_size: int) -> dict[str, float]:
    import pandas as pd

    from ..phantom import generate_phantoms

    small = generate_phantoms(8, Path(tmp) / "small", seed=9191, size=512, formats=("png",))
    files = [str(Path(tmp) / "small" / p) for p in pd.read_csv(small)["path"]]
    peaks = {}
    for count in (200, 2000):
        lst = Path(tmp) / f"list{count}.txt"
        links = Path(tmp) / f"links{count}"  # distinct names (score scores a repeated path once)
        links.mkdir()
        for i in range(count):
            (links / f"{i:05d}.png").symlink_to(files[i % len(files)])
        lst.write_text("\n".join(str(p) for p in sorted(links.iterdir())) + "\n")
        cmd = [
            sys.executable,
            "-m",
            "cxr_miliary",
            "--quiet",
            "score",
            str(lst),
            "--out",
            str(Path(tmp) / f"o{count}.csv"),
            "--workers",
            str(workers),
            "--batch-size",
            str(batch_size),
            "--cam",
        ]
        if weights:
            cmd += ["--weights", weights]
        peaks[count] = _peak_rss_mb(cmd)
    log(f"  peak memory of score --cam: 200 inputs {peaks[200]:.0f} MB, 2000 inputs {peaks[2000]:.0f} MB ({peaks[2000] / max(peaks[200], 1):.2f}x)")
    return {"peak_rss_mb_200": peaks[200], "peak_rss_mb_2000": peaks[2000]}


def _integrity_cost(predictor: Any, rad: Any, predict_s: float) -> dict[str, float]:
    """Milliseconds per image of the integrity checks (the features come from the forward pass itself)."""
    from ..explain import lung_fields
    from ..inference.chest_check import check_frontal_chest
    from ..models.reference import pool

    lungs = lung_fields(rad.pixels)
    out = {"lung_fields_ms": _timed(lambda: lung_fields(rad.pixels), 5) * 1000}
    out["chest_check_ms"] = _timed(lambda: check_frontal_chest(rad.pixels, lambda px: lungs if px is rad.pixels else lung_fields(px)), 5) * 1000
    acts = predictor.runtime.forward(predictor.inputs(rad)[None]).activations
    if predictor.reference is not None and acts is not None:
        out["ood_ms"] = _timed(lambda: predictor.reference.distance(pool(acts)), 20) * 1000
    else:
        out["ood_ms"] = 0.0
    out["integrity_share_of_predict"] = (out["chest_check_ms"] + out["ood_ms"]) / (predict_s * 1000)
    return out


def map_faithfulness(fast: Any, eager: Any, n: int = 32, seed: int = 6161, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """The fast maps against grad-cam's eager maps on ``n`` phantoms of a seed used nowhere else."""
    from ..phantom import render_phantom

    corr, diff, same = [], [], 0
    for i in range(n):
        img = render_phantom(seed, i, size=512).display
        a, b = fast.predict(img, force=True), eager.predict(img, force=True)
        diff.append(float(np.abs(a.cam - b.cam).max()))
        if a.cam.std() > 0 and b.cam.std() > 0:
            corr.append(float(np.corrcoef(a.cam.ravel(), b.cam.ravel())[0, 1]))
        same += int(a.distribution["pattern"] == b.distribution["pattern"] and a.distribution["involved_zones"] == b.distribution["involved_zones"])
    out = {"images": n, "pearson_min": min(corr) if corr else None, "max_abs_diff": max(diff), "same_pattern_and_zones": same}
    pearson = "n/a" if out["pearson_min"] is None else f"{out['pearson_min']:.5f}"
    log(
        f"  map faithfulness, {fast.cam_path} vs eager grad-cam, {n} phantoms (seed {seed}): Pearson >= {pearson}, "
        f"max |difference| {out['max_abs_diff']:.2e}, same pattern and involved zones on {same}/{n}"
    )
    return out


def cold_start(image: str, weights: str | None, log: Callable[[str], Any] = print) -> dict[str, float]:
    """Wall time of fresh processes: ``import torch`` against ``predict`` without and with the map (second of two runs each)."""
    w = ["--weights", weights] if weights else []

    def wall(cmd: list[str]) -> float:
        runs = []
        for _ in range(2):  # the first run warms the disk cache
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True)
            runs.append(time.perf_counter() - t)
        return runs[-1]

    out = {
        "import_torch_s": wall([sys.executable, "-c", "import torch"]),
        "cli_info_cold_s": wall([sys.executable, "-m", "cxr_miliary", "info", image]),
        "predict_no_cam_cold_s": wall([sys.executable, "-m", "cxr_miliary", "--quiet", "predict", image, "--no-cam", *w]),
        "predict_cam_cold_s": wall([sys.executable, "-m", "cxr_miliary", "--quiet", "predict", image, *w]),
    }
    t = out["import_torch_s"]
    log(
        f"  cold start: 'import torch' {t:.2f} s; 'cxr-miliary info' {out['cli_info_cold_s']:.2f} s; 'predict --no-cam' "
        f"{out['predict_no_cam_cold_s']:.2f} s ({out['predict_no_cam_cold_s'] / t:.2f}x import torch); 'predict' with the map "
        f"{out['predict_cam_cold_s']:.2f} s ({out['predict_cam_cold_s'] / t:.2f}x)"
    )
    return out
