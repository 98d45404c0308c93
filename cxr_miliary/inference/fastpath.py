"""Which runtime a Predictor uses: the one place that chooses and builds it.

:func:`runtime_for` answers every request (``precision="fp32"|"bf16"|"auto"``,
``backend="onnxruntime"``...). For ``precision="auto"`` it measures which runtime gives
fp32's answers fastest on this machine.

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

The cache is never trusted blindly (hostile or damaged files, shared caches): it is read
only if it is a small regular file (a FIFO, a device, a folder or a symlink to one is
rebuilt, never opened), parsed with a depth limit, and a verdict is used only if it is
consistent with its own figures (the fastest faithful candidate by
:func:`~cxr_miliary.inference.runtime.select`), was measured on this machine for this
bundle, and names an ONNX file that is the bundle's own export or this cache's export of
this very bundle (its sidecar names the bundle's weights sha256, and the file's sha256
matches). Writers merge under a lock, so two processes filling an empty cache keep both
verdicts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import strict_json
from ..atomic import atomic_path
from ..metrics import agreement, sigmoid
from ..models import BundleError, Card, sha256_file
from .precision import PRECISIONS, cpu_has_native_bf16
from .runtime import MAX_ABS_PROB_DIFF, REFERENCE, Backend, OnnxBackend, TorchBackend, bf16_network, select

__all__ = ["MAX_ABS_PROB_DIFF", "auto_runtime", "bf16_network", "cache_dir", "candidates", "measure", "probe_inputs", "runtime_for"]

log = logging.getLogger(__name__)

PROBE_IMAGES = 16
PROBE_SEED = 4242
#: Part of the cache key: verdicts made by an older candidate list are measured again.
VERSION = 5
#: A verdict cache holds a few kB per model and machine; anything larger is not ours.
MAX_CACHE_BYTES = 1 << 20
#: ``backend=`` strings of the first API -> the card's ONNX record and the runtime's name.
ONNX_BACKENDS = {"onnxruntime": ("onnx", "onnxruntime-fp32"), "onnxruntime-int8": ("onnx_int8", "onnxruntime-int8")}


def runtime_for(
    model: Any,
    card: Card,
    *,
    bundle_dir: Any = None,
    device: Any = "cpu",
    precision: str = "auto",
    backend: str = "torch",
    threads: int | None = None,
) -> tuple[Backend, dict[str, Any] | None]:
    """The runtime for a precision/backend request, and ``auto``'s evidence (None otherwise).

    ``precision="auto"`` with the torch backend is measured once per model and machine
    (:func:`auto_runtime`); ``backend="onnxruntime"`` uses the ONNX file the card records.
    ``model`` is the network or a function that builds it (called only when a torch
    runtime or a measurement needs it).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
    if backend in ONNX_BACKENDS:
        key, name = ONNX_BACKENDS[backend]
        rec = getattr(card, key)
        if rec is None or bundle_dir is None:
            raise BundleError(f"this bundle has no {key} export; run 'cxr-miliary export --weights B --onnx B/model.onnx'")
        return OnnxBackend(card.file(Path(bundle_dir), rec), rec["sha256"], threads, name=name), None
    if backend != "torch":
        raise ValueError("backend must be 'torch', 'onnxruntime' or 'onnxruntime-int8'")
    if precision == "auto":
        return auto_runtime(model, card, bundle_dir, device, threads)
    return TorchBackend(_network(model), device, precision, feature_layer=card.cam_target_layer), None


def _network(model: Any) -> Any:
    """The network itself, from a network or a function that builds it."""
    return model() if callable(model) and not hasattr(model, "state_dict") else model


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


def cached_export_path(card: Card) -> Path:
    """Where this cache keeps its own ONNX export of the bundle ``card`` describes."""
    return cache_dir() / "onnx" / f"{model_identity(card)}-v{VERSION}.onnx"


def onnx_export_for(bundle_dir: str | os.PathLike[str] | None, card: Card, model: Any = None) -> tuple[Path, str] | None:
    """(file, sha256) of an ONNX export of the bundle's network, or None without onnxruntime.

    The bundle's own export when its card records one; otherwise one exported once into
    the cache (keyed by the weights' sha256 and input size) with the parity check of
    ``cxr-miliary export``, from ``model`` when given (the network already in memory).
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

    path = cached_export_path(card)
    if _cached_export_sha(path, card) is None:  # missing, half-written, changed or another bundle's: export again
        path.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(bundle_dir, path, model=_network(model) if model is not None else None)  # written atomically, its sidecar too
    sha = _cached_export_sha(path, card)
    if sha is None:
        raise BundleError(f"{path}: the cached ONNX export does not match its record")
    return path, sha


def _cached_export_sha(path: Path, card: Card) -> str | None:
    """The sha256 of this cache's export of this bundle, if the file is that (else None)."""
    sidecar = path.with_name(path.name + ".json")
    record = _read_json(sidecar)
    if not isinstance(record, dict) or record.get("weights_sha256") != card.weights["sha256"]:
        return None
    try:
        return str(record["sha256"]) if path.is_file() and not path.is_symlink() and sha256_file(path) == record.get("sha256") else None
    except OSError:
        return None


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
            found = onnx_export_for(bundle_dir, card, model)
            if found is not None:
                out["onnxruntime-fp32"] = OnnxBackend(*found, threads=threads)
        except Exception as exc:  # an export or runtime that fails here is not a path
            log.debug("onnxruntime not a candidate: %s", exc)
    return out


def _read_json(path: Path) -> Any:
    """A small regular file's JSON, or None: never opens a FIFO, device or folder, reads at most :data:`MAX_CACHE_BYTES`."""
    import stat

    try:
        st = os.stat(path)  # follows a symlink: a link to /dev/zero is a character device here
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CACHE_BYTES:
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between the stat and the open
                return None
            data = os.read(fd, MAX_CACHE_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) > MAX_CACHE_BYTES:
            return None
        return json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def _read_cache(path: Path) -> dict[str, Any]:
    cached = _read_json(path)
    return cached if isinstance(cached, dict) else {}  # a damaged cache is rebuilt, never trusted


def _consistent(record: Any, card: Card, device: Any) -> bool:
    """Whether a cached verdict is one this machine's measurement of this bundle would have made."""
    if not isinstance(record, dict) or record.get("model_sha256") != card.weights["sha256"] or record.get("machine") != machine(device):
        return False
    choice, figures = record.get("choice"), record.get("figures")
    if choice == REFERENCE and "figures" not in record:
        return True  # "no faster path on this device": nothing to check
    try:
        ok = all(
            isinstance(f, dict) and all(isinstance(f[k], (int, float)) and math.isfinite(f[k]) for k in ("img_s", "max_abs_prob_diff", "flips"))
            for f in figures.values()
        )
        return bool(ok) and REFERENCE in figures and choice in figures and select(figures) == choice
    except (AttributeError, KeyError, TypeError, ValueError):
        return False


def _from_record(record: dict[str, Any], load_model: Any, card: Card, bundle_dir: Any, device: Any, threads: int | None) -> Backend | None:
    """The backend a cached verdict names, if it still holds (consistent, and its ONNX file this bundle's)."""
    if not _consistent(record, card, device):
        return None
    choice = record.get("choice")
    if choice in (REFERENCE, "torch-bf16"):
        return TorchBackend(load_model(), device, "fp32" if choice == REFERENCE else "bf16", feature_layer=card.cam_target_layer)
    if choice == "onnxruntime-fp32":
        path, sha = Path(str(record.get("onnx_file", ""))), record.get("onnx_sha256")
        own = card.onnx is not None and bundle_dir is not None and path == card.file(Path(bundle_dir), card.onnx) and sha == card.onnx["sha256"]
        cached = path == cached_export_path(card) and _cached_export_sha(path, card) == sha
        if (own or cached) and path.is_file() and sha256_file(path) == sha:
            return OnnxBackend(path, str(sha), threads)
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Any:
    """An exclusive POSIX lock on ``<cache>/fastpath.json.lock`` (writers merge one at a time)."""
    import fcntl

    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _store(path: Path, key: str, record: dict[str, Any]) -> None:
    """Merge one verdict into the cache under its lock (an unwritable cache only costs the check next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            cached = _read_cache(path)  # read again inside the lock: another process may have written
            cached[key] = record
            with atomic_path(path, mkdir=False) as tmp:
                tmp.write_text(strict_json.dumps(cached, indent=1))
    except OSError as exc:
        log.debug("fast-path verdict not cached: %s", exc)


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
        backend = _from_record(cached[key], load_model, card, bundle_dir, device, threads)
        if backend is not None:
            return backend, cached[key]
    if _torch_version() is None:
        if card.onnx is None or bundle_dir is None:
            raise BundleError("without torch installed, a bundle needs its ONNX export (cxr-miliary export) or pip install 'cxr-miliary[torch]'")
        onnx = OnnxBackend(card.file(Path(bundle_dir), card.onnx), card.onnx["sha256"], threads)
        return onnx, {"choice": onnx.name, "reason": "torch is not installed: the bundle's ONNX export (parity-checked when exported)"}
    model = load_model()
    reference = TorchBackend(model, device, "fp32", feature_layer=card.cam_target_layer)
    options = candidates(model, card, bundle_dir, device, threads)
    record: dict[str, Any] = {"choice": REFERENCE, "machine": machine(device), "model_sha256": card.weights["sha256"]}
    if not options:
        return reference, {**record, "reason": "no faster path on this device"}
    log.info("checking the fast inference paths for this model on this machine (once; cached in %s)", path)
    figures = measure(reference, options, probe_inputs(card), card.temperature, card.threshold)
    choice = select(figures)
    chosen = options.get(choice, reference)
    record.update(choice=choice, figures=figures, probe_images=PROBE_IMAGES)
    if isinstance(chosen, OnnxBackend):
        record.update(onnx_file=str(chosen.path), onnx_sha256=sha256_file(chosen.path))
    _store(path, key, record)
    return chosen, record
