"""The fast numeric paths, and ``auto``: the fastest path whose answers match fp32 here.

bf16 autocast + channels_last runs 3-5x faster than fp32 eager on CPUs with native bf16,
but plain autocast moved the earlier (global-head) default model's probabilities by up
to 0.037: most of the error came from rounding the *image* to bf16's 8-bit mantissa (a
faint nodule is a 2 % change of grey level), the rest from rounding after every
BatchNorm. Folding BatchNorm into the convolutions and keeping the first convolution in
fp32 brought it to 0.005 at 95 % of the speed (measured on 64 phantoms). For the zones-
head model at 512 px the same recipe still moved probabilities by 0.044 (the full-
resolution stem is where bf16 loses faint nodules), so whether a path holds for *a given
model on a given machine* is measured, not assumed: :func:`choose` runs each candidate
(bf16, ONNX Runtime fp32) against fp32 on a fixed phantom probe set, keeps the fastest
one that is faithful, and caches the verdict per model, input size, machine and library
version.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from .precision import cpu_has_native_bf16

if TYPE_CHECKING:
    from .predictor import Predictor

log = logging.getLogger(__name__)

#: The faithfulness bar (issue 10): probabilities within 0.01 of fp32, no decision flips.
MAX_ABS_PROB_DIFF = 0.01
PROBE_IMAGES = 16
PROBE_SEED = 4242
#: Part of the cache key: verdicts made by an older candidate list are measured again.
VERSION = 2


class _Fp32(nn.Module):
    """Runs the wrapped module in fp32 inside an autocast region."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.module(x.float())


def bf16_network(model: nn.Module) -> nn.Module:
    """A copy of ``model`` prepared for bf16 autocast (the original stays for Grad-CAM).

    BatchNorm is folded into the preceding convolutions where the network can be traced
    (one rounding less per layer), the first convolution runs in fp32 (the image is not
    rounded), and weights are channels_last (what oneDNN's fast bf16 kernels want).
    """
    net = copy.deepcopy(model).eval()
    try:
        from torch.fx.experimental.optimization import fuse

        net = fuse(net)
    except Exception as exc:  # not every timm model is fx-traceable; then BN stays
        log.debug("BatchNorm not folded (%s)", type(exc).__name__)
    first = next((name for name, m in net.named_modules() if isinstance(m, nn.Conv2d)), None)
    if first:
        parent, _, leaf = first.rpartition(".")
        holder = net.get_submodule(parent) if parent else net
        setattr(holder, leaf, _Fp32(getattr(holder, leaf)))
    return net.to(memory_format=torch.channels_last)


# --- auto ---------------------------------------------------------------------------------
def cache_dir() -> Path:
    """``$CXR_MILIARY_CACHE``, else ``$XDG_CACHE_HOME/cxr-miliary``, else ``~/.cache/cxr-miliary``."""
    if os.environ.get("CXR_MILIARY_CACHE"):
        return Path(os.environ["CXR_MILIARY_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cxr-miliary"


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name} bf16={'native' if cpu_has_native_bf16() else 'no'}"


def _key(predictor: Predictor) -> str:
    parts = [str(VERSION), predictor.model_info["sha256"], str(predictor.preprocess.image_size), _machine(predictor.device),
             torch.__version__, str(torch.get_num_threads())]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def probe_batch(predictor: Predictor, n: int = PROBE_IMAGES) -> torch.Tensor:
    """A fixed set of phantoms (half positive, all tiers) as network inputs."""
    from ..phantom import render_phantom
    from ..transforms import to_tensor

    size = max(256, predictor.preprocess.image_size)
    patterns = ("miliary", "normal", "reticulonodular", "vascular")
    tiers = ("subtle", "moderate", "florid")
    images = [render_phantom(PROBE_SEED, i, size=size, pattern=patterns[i % 4], difficulty=tiers[i % 3]).display for i in range(n)]
    return torch.stack([to_tensor(im, predictor.transform, predictor.preprocess.channels) for im in images])


def select(reference: Callable[[torch.Tensor], np.ndarray], candidates: dict[str, Callable[[torch.Tensor], np.ndarray]],
           x: torch.Tensor, threshold: float) -> tuple[str, dict[str, dict[str, float]]]:
    """The fastest faithful candidate (``"fp32"`` when none is) and every candidate's figures.

    Each callable maps a batch to probabilities. Faithful: max |Δp| vs ``reference`` within
    :data:`MAX_ABS_PROB_DIFF` and no decision flips at ``threshold``.
    """
    reference(x)  # warm-up: first calls allocate and pick kernels
    t = time.perf_counter()
    ref = reference(x)
    figures: dict[str, dict[str, float]] = {"fp32": {"img_s": len(x) / (time.perf_counter() - t), "max_abs_prob_diff": 0.0, "flips": 0}}
    for name, fn in candidates.items():
        try:
            fn(x)
            t = time.perf_counter()
            p = fn(x)
            rate = len(x) / (time.perf_counter() - t)
        except Exception as exc:  # a path that fails here is not a path
            log.debug("fast path %s failed its check: %s", name, exc)
            continue
        figures[name] = {"img_s": rate, "max_abs_prob_diff": float(np.abs(p - ref).max()),
                         "flips": int(np.sum((p >= threshold) != (ref >= threshold)))}
    faithful = [n for n, f in figures.items() if f["max_abs_prob_diff"] <= MAX_ABS_PROB_DIFF and f["flips"] == 0]
    return max(faithful, key=lambda n: figures[n]["img_s"]), figures


def onnx_export_for(predictor: Predictor) -> tuple[Path, str] | None:
    """(file, sha256) of an ONNX export of the predictor's network, or None without onnxruntime.

    The bundle's own export when its card records one; otherwise one exported once into
    the cache (keyed by the weights' sha256 and input size) with the parity check of
    ``cxr-miliary export``.
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    if predictor.bundle_dir is None:
        return None
    rec = predictor.card.get("onnx")
    if rec:
        return Path(predictor.bundle_dir) / rec["file"], str(rec["sha256"])
    from ..models.onnx_export import export_onnx

    path = cache_dir() / "onnx" / f"{predictor.model_info['sha256'][:32]}-{predictor.preprocess.image_size}.onnx"
    sidecar = path.with_suffix(".onnx.json")
    if not _matches_sidecar(path, sidecar):  # missing, half-written or changed: export again
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.onnx")
        try:
            record = export_onnx(predictor.bundle_dir, tmp)
            tmp.replace(path)
        finally:  # export_onnx's own sidecar, and the file itself if the export failed
            Path(f"{tmp}.json").unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
        side_tmp = sidecar.with_name(f"{sidecar.name}.{os.getpid()}.tmp")
        side_tmp.write_text(json.dumps({**record, "file": path.name}))
        side_tmp.replace(sidecar)  # a concurrent reader never sees half a record
    return path, str(json.loads(sidecar.read_text())["sha256"])


def _matches_sidecar(path: Path, sidecar: Path) -> bool:
    from ..models import sha256_file

    try:
        return path.is_file() and sha256_file(path) == json.loads(sidecar.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def candidates(predictor: Predictor) -> tuple[dict[str, Callable[[torch.Tensor], np.ndarray]], dict[str, str]]:
    """The paths worth trying on this device (bf16 where it is native, ONNX Runtime fp32 on
    CPU) as probability functions, and where the ONNX file is (``onnx_file``, ``onnx_sha256``)."""
    from .predictor import Predictor as _P
    from .predictor import onnx_logits, onnx_session

    out: dict[str, Callable[[torch.Tensor], np.ndarray]] = {}
    extra: dict[str, str] = {}
    native = torch.cuda.is_bf16_supported() if predictor.device.type == "cuda" else cpu_has_native_bf16()
    if native:
        fast = _P(predictor.model, predictor.card, device=str(predictor.device), precision="bf16")
        out["bf16"] = lambda x: fast.probability(fast.logits(x).numpy())
    if predictor.device.type == "cpu":
        try:
            found = onnx_export_for(predictor)
            if found is not None:
                session = onnx_session(*found)
                extra = {"onnx_file": str(found[0]), "onnx_sha256": found[1]}
                out["onnxruntime"] = lambda x: predictor.probability(onnx_logits(session, x).numpy())
        except Exception as exc:  # an export or runtime that fails here is not a path
            log.debug("onnxruntime not a candidate: %s", exc)
    return out, extra


def _still_valid(record: dict[str, Any]) -> bool:
    """A cached ONNX Runtime verdict holds only while its file is the one that was checked."""
    if record["choice"] != "onnxruntime":
        return True
    from ..models import sha256_file

    path = Path(str(record.get("onnx_file", "")))
    return path.is_file() and sha256_file(path) == record.get("onnx_sha256")


def choose(predictor: Predictor) -> tuple[str, dict[str, Any]]:
    """Resolve ``auto`` for this predictor: ``"bf16"``, ``"onnxruntime"`` or ``"fp32"``, and the evidence.

    The first call per model and machine measures (a few seconds) and caches the verdict.
    """
    path = cache_dir() / "fastpath.json"
    key = _key(predictor)
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if not isinstance(cached, dict):  # a damaged cache is rebuilt, never trusted
        cached = {}
    if isinstance(cached.get(key), dict) and "choice" in cached[key] and _still_valid(cached[key]):
        return cached[key]["choice"], cached[key]
    options, extra = candidates(predictor)
    if not options:
        return "fp32", {"choice": "fp32", "reason": "no faster path on this device"}
    log.info("checking the fast inference paths for this model on this machine (once; cached in %s)", path)
    x = probe_batch(predictor)
    choice, figures = select(lambda b: predictor.probability(predictor.logits(b).numpy()), options, x, predictor.threshold)
    record = {"choice": choice, "figures": figures, "machine": _machine(predictor.device), "probe_images": len(x),
              "model_sha256": predictor.model_info["sha256"], **(extra if choice == "onnxruntime" else {})}
    cached[key] = record
    with contextlib.suppress(OSError):  # an unwritable cache only costs the check next time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached, indent=1))
        tmp.replace(path)
    return choice, record
