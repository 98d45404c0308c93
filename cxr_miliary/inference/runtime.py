"""Runtimes: the numeric backends a :class:`~cxr_miliary.inference.Predictor` runs its network on.

Every backend has one interface: ``logits(x)`` for a batch of network inputs (N, C, H, W
float32 numpy) -> (N,) float32 logits, a ``name`` (``torch-fp32``, ``torch-bf16``,
``onnxruntime-fp32`` ...) that the Predictor's repr and the ``predict`` JSON show, and
``describe()`` for logs. Which backend ``precision="auto"`` uses is decided by
:func:`select` from measured evidence (:mod:`cxr_miliary.inference.fastpath` measures);
this module never measures and never builds a Predictor.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: The faithfulness bar: probabilities within 0.005 of fp32's on the probe phantoms, no decision flips. Halved from
#: 0.01 when bf16 passed the probe at 0.0096 and moved the real CR film's probability by 0.033.
MAX_ABS_PROB_DIFF = 0.005
#: On CPU the network runs in chunks of this many images: at 384-512 px a convnet was
#: 25-60 % faster per image at batch 1-2 than at 16 (the activations stay in cache).
CPU_MICRO_BATCH = {"fp32": 1, "bf16": 2}
#: The reference every fast path is compared with.
REFERENCE = "torch-fp32"


@dataclass
class Forward:
    """What one forward pass gives.

    Attributes:
        logits: (N,) float32.
        activations: The CAM layer's output (N, C, h, w), or None.
        gradients: d(logit)/d(activations) (N, C, h, w) when the runtime computes it in the
            same pass (an ONNX export with the head's gradient), else None.
    """

    logits: np.ndarray
    activations: np.ndarray | None = None
    gradients: np.ndarray | None = None


class Backend:
    """A way to run the network: ``logits(x)`` on (N, C, H, W) float32 inputs.

    ``forward(x)`` also returns, from the same pass, the activations of the CAM layer
    (and, where the backend can, the head's gradient); see :class:`Forward`.
    """

    name = "backend"

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N,) float32 logits."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, gradients: bool = False) -> Forward:
        """Logits and what else this backend gives from the same pass."""
        return Forward(self.logits(x))

    def describe(self) -> dict[str, Any]:
        """What this backend is, for reprs, logs and JSON."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


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


class TorchBackend(Backend):
    """The PyTorch network in fp32 (channels_last) or bf16 autocast.

    Args:
        model: The network (eval mode; moved to ``device``).
        device: ``"cpu"`` or ``"cuda"`` (a ``torch.device`` works too).
        precision: ``"fp32"`` or ``"bf16"`` (BatchNorm folded, first conv kept in fp32:
            see :func:`bf16_network`).
        channels_last: The layout oneDNN/cuDNN convolutions are fastest in (~1.8x on CPU
            in fp32, same arithmetic). False gives the peers' plain eager baseline.
        micro_batch: Images per forward on CPU (default :data:`CPU_MICRO_BATCH`); 0 runs
            whole batches.
        feature_layer: The module whose activations :meth:`forward` returns (the CAM
            target layer); None gives no activations.
    """

    def __init__(
        self,
        model: Any,
        device: Any = "cpu",
        precision: str = "fp32",
        *,
        channels_last: bool = True,
        micro_batch: int | None = None,
        feature_layer: str | None = None,
    ) -> None:
        import torch

        if precision not in ("fp32", "bf16"):
            raise ValueError("precision must be 'fp32' or 'bf16'")
        self.device = torch.device(device)
        self.precision = precision
        self.channels_last = channels_last
        self.layout = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device).eval().to(memory_format=self.layout)
        self._net = self.model
        if precision == "bf16":
            from .precision import cpu_has_native_bf16

            if self.device.type == "cpu" and not cpu_has_native_bf16():
                log.warning("this CPU has no native bf16: the bf16 path is emulated and slower than fp32")
            self._net = bf16_network(self.model)
        if micro_batch is None:
            micro_batch = CPU_MICRO_BATCH[precision] if self.device.type == "cpu" else 0
        self.micro_batch = micro_batch
        self.feature_layer = feature_layer
        self.name = f"torch-{precision}" + ("" if channels_last else "-eager")

    def logits(self, x: Any) -> np.ndarray:
        """(N,) float32 logits; ``x`` may be a numpy array or a tensor."""
        import torch

        t = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x)
        chunks = t.split(self.micro_batch) if self.micro_batch and len(t) > self.micro_batch else [t]
        with torch.no_grad():
            out = [self._forward(c) for c in chunks]
        return torch.cat(out).numpy().astype(np.float32) if out else np.zeros(0, np.float32)

    def forward(self, x: Any, gradients: bool = False) -> Forward:
        """Logits and the feature layer's activations from one pass (gradients come from the Predictor's head).

        The bf16 network is a traced copy whose containers no longer exist as modules, so
        there the activations come from the fp32 network (a second forward).
        """
        import torch

        if not self.feature_layer:
            return Forward(self.logits(x))
        t = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x)
        seen: list[Any] = []
        layer = self.model.get_submodule(self.feature_layer)
        handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out.detach().float().cpu()))
        try:
            logits = self.logits(t)  # in fp32 the hook fires in this pass (the network is the model itself)
            if self.precision != "fp32":
                with torch.no_grad():
                    for chunk in t.split(self.micro_batch or len(t)):
                        self.model(chunk.to(self.device).contiguous(memory_format=self.layout))
        finally:
            handle.remove()
        return Forward(logits, torch.cat(seen).numpy() if seen else None)

    def _forward(self, x: Any) -> Any:
        import torch

        x = x.to(self.device).contiguous(memory_format=self.layout)
        if self.precision == "bf16":
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                return self._net(x).reshape(-1).float().cpu()
        return self._net(x).reshape(-1).float().cpu()

    def describe(self) -> dict[str, Any]:
        """Name, device, precision, layout and chunking."""
        return {
            "name": self.name,
            "device": str(self.device),
            "precision": self.precision,
            "channels_last": self.channels_last,
            "micro_batch": self.micro_batch,
        }


class OnnxBackend(Backend):
    """ONNX Runtime (CPU) on an exported network; its first output is the logit.

    Args:
        path: The ``.onnx`` file.
        sha256: Its recorded sha256 (checked before the session is built).
        threads: Intra-op threads (default: ONNX Runtime's choice).
        name: ``onnxruntime-fp32`` or ``onnxruntime-int8``.
    """

    def __init__(self, path: str | Path, sha256: str | None = None, threads: int | None = None, name: str = "onnxruntime-fp32") -> None:
        from ..models.onnx import onnx_session

        self.path = Path(path)
        self.session = onnx_session(self.path, sha256, threads)
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.name = name

    def logits(self, x: Any) -> np.ndarray:
        """(N,) float32 logits."""
        arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        return self.session.run(self.outputs[:1], {"image": arr})[0].reshape(-1).astype(np.float32)

    def forward(self, x: Any, gradients: bool = False) -> Forward:
        """Logits and, for exports that have them, the ``activations`` (and ``cam_grad``) outputs of the same run."""
        if "activations" not in self.outputs:
            return Forward(self.logits(x))
        names = ["logit", "activations"] + (["cam_grad"] if gradients and "cam_grad" in self.outputs else [])
        out = self.session.run(names, {"image": np.ascontiguousarray(np.asarray(x, dtype=np.float32))})
        return Forward(out[0].reshape(-1).astype(np.float32), out[1], out[2] if len(out) > 2 else None)

    def describe(self) -> dict[str, Any]:
        """Name, file and outputs."""
        return {"name": self.name, "file": self.path.name, "outputs": self.outputs}


def select(figures: dict[str, dict[str, float]], reference: str = REFERENCE, max_abs_prob_diff: float = MAX_ABS_PROB_DIFF) -> str:
    """The fastest candidate whose answers match the reference's; the reference when none does.

    Args:
        figures: Per backend name, ``{"img_s", "max_abs_prob_diff", "flips"}`` measured
            on the same inputs as the reference (which is in ``figures`` too).
        reference: The name of the reference backend.
        max_abs_prob_diff: The faithfulness bar.

    Returns:
        A key of ``figures``.
    """
    faithful = [n for n, f in figures.items() if n == reference or (f["max_abs_prob_diff"] <= max_abs_prob_diff and f["flips"] == 0)]
    return max(faithful, key=lambda n: figures[n]["img_s"])
