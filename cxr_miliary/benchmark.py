"""``cxr-miliary bench``: throughput, latency, memory and faithfulness figures on this machine.

Everything is measured in one run on the same images, so the ratios are comparable.
Benchmarks, not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .calibration import summary_metrics
from .io import load_image

SCORE_INPUTS = 128


def _timed(fn, repeat: int = 1) -> float:  # noqa: ANN001
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat


def _score_rate(predictor: Any, paths: list[str], batch_size: int, workers: int) -> float:
    t = time.perf_counter()
    n = sum(1 for _ in predictor.iter_score(paths, batch_size=batch_size, num_workers=workers))
    return n / (time.perf_counter() - t)


def _forward_rate(predictor: Any, tensors: torch.Tensor, batch_size: int) -> float:
    predictor.logits(tensors[:batch_size])  # warm-up
    t = time.perf_counter()
    for i in range(0, len(tensors), batch_size):
        predictor.logits(tensors[i : i + batch_size])
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
    x = torch.stack([fp32.tensor(r) for r in rads])
    p32 = fp32.probability(torch.cat([fp32.logits(x[i : i + 8]) for i in range(0, len(x), 8)]).numpy())
    pfast = fast.probability(torch.cat([fast.logits(x[i : i + 8]) for i in range(0, len(x), 8)]).numpy())
    thr = fp32.threshold
    corr = []
    for r in rads[:8]:
        a, b = fp32.predict(r).cam, fast.predict(r).cam
        if a.std() > 0 and b.std() > 0:
            corr.append(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]))
    out = {
        "max_abs_prob_diff": float(np.abs(p32 - pfast).max()),
        "decision_flips": float(np.mean((p32 >= thr) != (pfast >= thr))),
        "cam_correlation_min": float(min(corr)) if corr else float("nan"),
    }
    if 0 < labels.sum() < len(labels):
        out["auroc_fp32"] = summary_metrics(p32, labels)["auroc"]
        out["auroc_fast"] = summary_metrics(pfast, labels)["auroc"]
    return out


def plain_fp32(predictor: Any) -> Any:
    """Turn an fp32 Predictor into the peers' baseline: fp32 eager, default memory layout, whole batches."""
    predictor.model.to(memory_format=torch.contiguous_format)
    predictor.layout = torch.contiguous_format
    predictor.micro_batch = None
    return predictor


def _paths_table(log, res: dict[str, Any], name: str, pred: Any, tensors: torch.Tensor, paths: list[str], batch_size: int, workers: int, cam: bool) -> None:  # noqa: ANN001
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


def run_bench(weights: str | None, *, n: int = 32, size: int = 2048, batch_size: int = 16, workers: int = 2, memory: bool = True,
              score_inputs: int = SCORE_INPUTS, log=print) -> dict[str, Any]:  # noqa: ANN001
    """Measure and return every figure (also logged line by line)."""
    from .inference import Predictor
    from .phantom import generate_phantoms

    load = (lambda **kw: Predictor.load(weights, **kw)) if weights else (lambda **kw: Predictor.from_pretrained(**kw))
    eager, fp32, auto = plain_fp32(load(precision="fp32")), load(precision="fp32"), load(precision="auto")
    auto_name = auto.backend if auto.backend != "torch" else auto.precision
    res: dict[str, Any] = {"cpu_threads": torch.get_num_threads(), "auto_path": auto_name, "auto_check": auto.fastpath,
                           "model": fp32.model_info["name"], "input": fp32.preprocess.image_size}
    with tempfile.TemporaryDirectory() as tmp:
        man = generate_phantoms(n, Path(tmp) / "ph", seed=9090, size=size, formats=("dcm",), workers=max(1, workers))
        import pandas as pd

        rows = pd.read_csv(man)
        paths = [str(Path(tmp) / "ph" / p) for p in rows["path"]]
        labels = rows["label"].to_numpy()
        # score and the predict loop run over >= score_inputs inputs (the files repeated), so
        # the decode pipeline's start-up is spread as over an archive, not over 32 files
        many = (paths * -(-score_inputs // n))[: max(n, score_inputs)]
        log(f"{n} phantom DICOMs at {size}², model {res['model']} at {res['input']}², batch {batch_size}, {workers} decode workers, "
            f"{res['cpu_threads']} torch threads; auto chose {auto_name}")
        if auto.fastpath and auto.fastpath.get("figures"):
            log("  auto's check on its probe phantoms: " + "; ".join(
                f"{k} {v['img_s']:.1f} img/s, max |Δp| {v['max_abs_prob_diff']:.4f}, {v['flips']} flips" for k, v in auto.fastpath["figures"].items()))
        t = time.perf_counter()
        tensors = torch.stack([fp32.tensor(load_image(p)) for p in paths])
        res["decode_ms"] = (time.perf_counter() - t) / n * 1000
        log(f"  decode + resize in one process: {res['decode_ms']:.0f} ms per image")
        _paths_table(log, res, "fp32-eager", eager, tensors, many, batch_size, workers, cam=True)
        _paths_table(log, res, "fp32", fp32, tensors, many, batch_size, workers, cam=False)
        _paths_table(log, res, f"auto={auto_name}", auto, tensors, many, batch_size, workers, cam=True)
        res["auto_score_img_s"] = res[f"auto={auto_name}_score_img_s"]
        res["auto_vs_eager_score"] = res["auto_score_img_s"] / res["fp32-eager_score_img_s"]
        log(f"  auto vs fp32 eager, end-to-end score without CAM: {res['auto_vs_eager_score']:.2f}x; "
            f"with CAM: {res[f'auto={auto_name}_score_cam_img_s'] / res['fp32-eager_score_cam_img_s']:.2f}x")
        _onnx_rows(log, res, load, fp32, tensors, paths, labels, batch_size, workers, many)
        t_loop = _timed(lambda: [auto.predict(p, cam=False) for p in many])
        res["predict_loop_img_s"] = len(many) / t_loop
        log(f"  predict() loop, {auto_name}, no CAM: {res['predict_loop_img_s']:6.1f} img/s -> score is {res['auto_score_img_s'] / res['predict_loop_img_s']:.2f}x faster")
        rad = load_image(paths[0])
        auto.predict(rad)
        plain = _timed(lambda: auto.predict(rad, cam=False), 3)
        withcam = _timed(lambda: auto.predict(rad, cam=True), 3)
        res["predict_latency_s"], res["predict_cam_latency_s"] = plain, withcam
        log(f"  predict latency (one {size}² image, {auto_name}): {plain * 1000:.0f} ms; with Grad-CAM {withcam * 1000:.0f} ms ({withcam / plain:.1f}x)")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cxr_miliary", "info", paths[0]], capture_output=True)
        res["cli_info_cold_s"] = time.perf_counter() - t
        log(f"  CLI cold start, 'cxr-miliary info': {res['cli_info_cold_s']:.2f} s")
        fast = auto if auto_name != "fp32" else load(precision="bf16")
        f = faithfulness(fp32, fast, paths, labels)
        res["faithfulness"] = {**f, "path": auto_name if fast is auto else "bf16"}
        log(f"  faithfulness {res['faithfulness']['path']} vs fp32: max |Δp| {f['max_abs_prob_diff']:.4f}, decision flips {f['decision_flips']:.1%}, "
            f"CAM corr ≥ {f['cam_correlation_min']:.3f}" + (f", AUROC {f['auroc_fp32']:.4f} vs {f['auroc_fast']:.4f}" if "auroc_fp32" in f else ""))
        if memory:
            res.update(_memory(log, tmp, weights, workers, batch_size))
    return res


def _onnx_rows(log, res: dict[str, Any], load, fp32: Any, tensors: torch.Tensor, paths: list[str], labels: np.ndarray, batch_size: int, workers: int, many: list[str]) -> None:  # noqa: ANN001
    for backend in ("onnxruntime", "onnxruntime-int8"):
        key = {"onnxruntime": "onnx", "onnxruntime-int8": "onnx_int8"}[backend]
        if key not in fp32.card:
            log(f"  {backend}: no {key} export in this bundle (cxr-miliary export --weights B --onnx B/model.onnx [--int8])")
            continue
        ort_p = load(backend=backend)
        fwd, sc = _forward_rate(ort_p, tensors, batch_size), _score_rate(ort_p, many, batch_size, workers)
        res[f"{backend}_forward_img_s"], res[f"{backend}_score_img_s"] = fwd, sc
        p_ref = fp32.probability(fp32.logits(tensors).numpy())
        p_ort = ort_p.probability(ort_p.logits(tensors).numpy())
        extra = ""
        if 0 < labels.sum() < len(labels):
            d_auc = summary_metrics(p_ref, labels)["auroc"] - summary_metrics(p_ort, labels)["auroc"]
            res[f"{backend}_auroc_drop"] = d_auc
            extra = f", AUROC drop {d_auc:+.4f}"
        res[f"{backend}_max_abs_prob_diff"] = float(np.abs(p_ref - p_ort).max())
        log(f"  {backend:14s} forward {fwd:6.1f} img/s | score {sc:6.1f} img/s; max |Δp| {res[f'{backend}_max_abs_prob_diff']:.4f}{extra}")


def _memory(log, tmp: str, weights: str | None, workers: int, batch_size: int) -> dict[str, float]:  # noqa: ANN001
    import pandas as pd

    from .phantom import generate_phantoms

    small = generate_phantoms(8, Path(tmp) / "small", seed=9191, size=512, formats=("png",))
    files = [str(Path(tmp) / "small" / p) for p in pd.read_csv(small)["path"]]
    peaks = {}
    for count in (200, 2000):
        lst = Path(tmp) / f"list{count}.txt"
        lst.write_text("\n".join(files[i % len(files)] for i in range(count)) + "\n")
        cmd = [sys.executable, "-m", "cxr_miliary", "--quiet", "score", str(lst), "--out", str(Path(tmp) / f"o{count}.csv"), "--workers", str(workers), "--batch-size", str(batch_size)]
        if weights:
            cmd += ["--weights", weights]
        peaks[count] = _peak_rss_mb(cmd)
    log(f"  peak memory of score: 200 inputs {peaks[200]:.0f} MB, 2000 inputs {peaks[2000]:.0f} MB ({peaks[2000] / max(peaks[200], 1):.2f}x)")
    return {"peak_rss_mb_200": peaks[200], "peak_rss_mb_2000": peaks[2000]}
