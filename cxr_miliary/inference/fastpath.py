"""``precision="auto"``: measure which runtime gives fp32's answers fastest on this machine.

bf16 autocast + channels_last runs 3-5x faster than fp32 eager on CPUs with native bf16,
but plain autocast moved the earlier (global-head) default model's probabilities by up
to 0.037: most of the error came from rounding the *image* to bf16's 8-bit mantissa (a
faint nodule is a 2 % change of grey level), the rest from rounding after every
BatchNorm. Folding BatchNorm into the convolutions and keeping the first convolution in
fp32 brought it to 0.005 at 95 % of the speed (measured on 64 phantoms). For the grid-
head model at 512 px the same recipe still moved probabilities by 0.044 (the full-
resolution stem is where bf16 loses faint nodules), so whether a path holds for *a given
model on a given machine* is measured, not assumed: :func:`auto_runtime` runs each
candidate (bf16, ONNX Runtime fp32) against fp32 on a fixed phantom probe set, lets
:func:`~cxr_miliary.inference.runtime.select` keep the fastest faithful one, and caches
the verdict per model, input size, machine and library version. Measuring builds
backends, never Predictors, and changes no process-wide setting.
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
from pathlib import Path
from typing import Any

import numpy as np

from .. import strict_json
from ..metrics import agreement, sigmoid
from ..models import Card, sha256_file
from .precision import cpu_has_native_bf16
from .runtime import MAX_ABS_PROB_DIFF, REFERENCE, Backend, OnnxBackend, TorchBackend, select

__all__ = ["MAX_ABS_PROB_DIFF", "auto_runtime", "bf16_network", "cache_dir", "candidates", "measure", "probe_inputs"]

log = logging.getLogger(__name__)

PROBE_IMAGES = 16
PROBE_SEED = 4242
#: Part of the cache key: verdicts made by an older candidate list are measured again.
VERSION = 3


def bf16_network(model: Any) -> Any:
    """A copy of ``model`` prepared for bf16 autocast (the original stays for Grad-CAM).

    BatchNorm is folded into the preceding convolutions where the network can be traced
    (one rounding less per layer), the first convolution runs in fp32 (the image is not
    rounded), and weights are channels_last (what oneDNN's fast bf16 kernels want).
    """
    import torch
    from torch import nn

    class Fp32(nn.Module):
        """Runs the wrapped module in fp32 inside an autocast region."""

        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.autocast(device_type=x.device.type, enabled=False):
                return self.module(x.float())

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
        setattr(holder, leaf, Fp32(getattr(holder, leaf)))
    return net.to(memory_format=torch.channels_last)


def cache_dir() -> Path:
    """``$CXR_MILIARY_CACHE``, else ``$XDG_CACHE_HOME/cxr-miliary``, else ``~/.cache/cxr-miliary``."""
    if os.environ.get("CXR_MILIARY_CACHE"):
        return Path(os.environ["CXR_MILIARY_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cxr-miliary"


def machine(device: Any) -> str:
    """The CPU model (and native bf16) or the GPU name: part of the verdict's key."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name} bf16={'native' if cpu_has_native_bf16() else 'no'}"


def _torch_version() -> str | None:
    """torch's version from the installed metadata (no import), or None when torch is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def _threads(threads: int | None) -> int:
    if threads:
        return int(threads)
    try:
        return int(os.environ.get("OMP_NUM_THREADS", "")) or os.cpu_count() or 1
    except ValueError:
        return os.cpu_count() or 1


def model_identity(card: Card) -> str:
    """What the network is: weights, backbone, head, input (a card that changes any of them is another model)."""
    return hashlib.sha256(
        "|".join([card.weights["sha256"], card.backbone, card.head, str(card.image_size), str(card.channels)]).encode()
    ).hexdigest()[:24]


def _key(card: Card, device: Any, threads: int | None) -> str:
    parts = [str(VERSION), model_identity(card), machine(device), str(_torch_version()), str(_threads(threads))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def probe_inputs(card: Card, n: int = PROBE_IMAGES) -> np.ndarray:
    """A fixed set of phantoms (half positive, all tiers) as network inputs (N, C, H, W)."""
    from ..phantom import render_phantom
    from ..transforms import Preprocess, eval_transform, to_array

    pre = Preprocess.from_dict(card.preprocess)
    transform = eval_transform(pre)
    size = max(256, pre.image_size)
    patterns = ("miliary", "normal", "reticulonodular", "vascular")
    tiers = ("subtle", "moderate", "florid")
    images = [render_phantom(PROBE_SEED, i, size=size, pattern=patterns[i % 4], difficulty=tiers[i % 3]).display for i in range(n)]
    return np.stack([to_array(im, transform, pre.channels) for im in images])


def measure(reference: Backend, candidates: dict[str, Backend], x: np.ndarray, temperature: float, threshold: float) -> dict[str, dict[str, float]]:
    """Speed and faithfulness of each candidate against ``reference`` on inputs ``x``.

    A candidate that fails here is left out (it is not a path).
    """

    def timed(b: Backend) -> tuple[np.ndarray, float]:
        b.logits(x[:2])  # warm-up: first calls allocate and pick kernels
        t = time.perf_counter()
        p = sigmoid(b.logits(x) / temperature)
        return p, len(x) / (time.perf_counter() - t)

    ref, rate = timed(reference)
    figures = {reference.name: {"img_s": rate, "max_abs_prob_diff": 0.0, "flips": 0}}
    for name, backend in candidates.items():
        try:
            p, rate = timed(backend)
        except Exception as exc:  # a path that fails its check is not a path
            log.debug("fast path %s failed its check: %s", name, exc)
            continue
        figures[name] = {"img_s": rate, **agreement(ref, p, threshold)}
    return figures


def onnx_export_for(bundle_dir: str | os.PathLike[str] | None, card: Card) -> tuple[Path, str] | None:
    """(file, sha256) of an ONNX export of the bundle's network, or None without onnxruntime.

    The bundle's own export when its card records one; otherwise one exported once into
    the cache (keyed by the weights' sha256 and input size) with the parity check of
    ``cxr-miliary export``.
    """
    try:
        import onnxruntime  # noqa: F401 - only whether it is installed
    except ImportError:
        return None
    if bundle_dir is None:
        return None
    if card.onnx is not None and "activations" in card.onnx.get("outputs", []):
        return card.file(Path(bundle_dir), card.onnx), str(card.onnx["sha256"])
    from ..models.onnx import export_onnx

    path = cache_dir() / "onnx" / f"{model_identity(card)}-v{VERSION}.onnx"
    sidecar = path.with_name(path.name + ".json")
    if not _matches_sidecar(path, sidecar):  # missing, half-written or changed: export again
        path.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(bundle_dir, path)  # written atomically, its sidecar too
    return path, str(json.loads(sidecar.read_text())["sha256"])


def _matches_sidecar(path: Path, sidecar: Path) -> bool:
    try:
        return path.is_file() and sha256_file(path) == json.loads(sidecar.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def candidates(model: Any, card: Card, bundle_dir: Any, device: Any, threads: int | None = None) -> dict[str, Backend]:
    """The backends worth trying on this device: bf16 where it is native, ONNX Runtime fp32 on CPU."""
    out: dict[str, Backend] = {}
    if str(device).startswith("cuda"):
        import torch

        native = torch.cuda.is_bf16_supported()
    else:
        native = cpu_has_native_bf16()
    if native:
        out["torch-bf16"] = TorchBackend(model, device, "bf16", feature_layer=card.cam_target_layer)
    if not str(device).startswith("cuda"):
        try:
            found = onnx_export_for(bundle_dir, card)
            if found is not None:
                out["onnxruntime-fp32"] = OnnxBackend(*found, threads=threads)
        except Exception as exc:  # an export or runtime that fails here is not a path
            log.debug("onnxruntime not a candidate: %s", exc)
    return out


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) else {}  # a damaged cache is rebuilt, never trusted


def _from_record(record: dict[str, Any], load_model: Any, card: Card, device: Any, threads: int | None) -> Backend | None:
    """The backend a cached verdict names, if it still holds (an ONNX file unchanged)."""
    choice = record.get("choice")
    if choice in (REFERENCE, "torch-bf16"):
        return TorchBackend(load_model(), device, "fp32" if choice == REFERENCE else "bf16", feature_layer=card.cam_target_layer)
    if choice == "onnxruntime-fp32":
        path = Path(str(record.get("onnx_file", "")))
        if path.is_file() and sha256_file(path) == record.get("onnx_sha256"):
            return OnnxBackend(path, record["onnx_sha256"], threads)
    return None


def auto_runtime(model: Any, card: Card, bundle_dir: Any = None, device: Any = "cpu", threads: int | None = None) -> tuple[Backend, dict[str, Any]]:
    """Resolve ``auto``: the backend to use and the evidence (the measured figures).

    The first call per model and machine measures (a few seconds) and caches the verdict
    in ``<cache_dir>/fastpath.json``; later calls read it without importing torch. Where
    torch is not installed, the bundle's own ONNX export (parity-checked when it was
    exported) is used as is.

    Args:
        model: The network, or a function that builds it (called only if needed).
        card: Its card.
        bundle_dir: The bundle folder (for its ONNX export).
        device: ``"cpu"`` or ``"cuda"``.
        threads: CPU threads.
    """
    load_model = model if callable(model) and not hasattr(model, "state_dict") else (lambda: model)
    path = cache_dir() / "fastpath.json"
    key = _key(card, device, threads)
    cached = _read_cache(path)
    if isinstance(cached.get(key), dict):
        backend = _from_record(cached[key], load_model, card, device, threads)
        if backend is not None:
            return backend, cached[key]
    if _torch_version() is None:
        from ..models import BundleError

        if card.onnx is None or bundle_dir is None:
            raise BundleError("without torch installed, a bundle needs its ONNX export (cxr-miliary export) or pip install 'cxr-miliary[torch]'")
        onnx = OnnxBackend(card.file(Path(bundle_dir), card.onnx), card.onnx["sha256"], threads)
        return onnx, {"choice": onnx.name, "reason": "torch is not installed: the bundle's ONNX export (parity-checked when exported)"}
    model = load_model()
    reference = TorchBackend(model, device, "fp32", feature_layer=card.cam_target_layer)
    options = candidates(model, card, bundle_dir, device, threads)
    if not options:
        return reference, {"choice": REFERENCE, "reason": "no faster path on this device"}
    log.info("checking the fast inference paths for this model on this machine (once; cached in %s)", path)
    figures = measure(reference, options, probe_inputs(card), card.temperature, card.threshold)
    choice = select(figures)
    chosen = options.get(choice, reference)
    record: dict[str, Any] = {
        "choice": choice,
        "figures": figures,
        "machine": machine(device),
        "probe_images": PROBE_IMAGES,
        "model_sha256": card.weights["sha256"],
    }
    if isinstance(chosen, OnnxBackend):
        record.update(onnx_file=str(chosen.path), onnx_sha256=sha256_file(chosen.path))
    cached[key] = record
    with contextlib.suppress(OSError):  # an unwritable cache only costs the check next time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(strict_json.dumps(cached, indent=1))
        tmp.replace(path)
    return chosen, record
