"""ONNX: export a bundle's network (dynamic batch, parity-checked), int8 quantisation, sessions.

The export has two outputs: ``logit`` and ``activations`` (the CAM target layer's output),
so one ONNX Runtime forward gives both the probability and what a class-activation map
is built from. :func:`onnx_session` is the one place ONNX Runtime sessions are set up
(sha256 checked first).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .. import strict_json
from ..atomic import atomic_path, write_text
from ..metrics import agreement, sigmoid
from .bundle import Card, bundle_folder, load_bundle, sha256_file, update_card

DEFAULT_OPSET = 17
#: Largest |Δp| between ONNX Runtime and PyTorch an fp32 export may show.
PARITY_TOL = 1e-4


#: Largest ONNX file a session is built from (a network of the bundles' 500 M-parameter
#: limit in fp32, and some graph).
MAX_ONNX_BYTES = 2_100_000_000


def onnx_session(path: str | os.PathLike[str], sha256: str | None = None, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for ``path``, after checking its sha256 when given.

    The file is read once, bounded in size, hashed, and the session built from those very
    bytes: nothing can change between the check and the load, and a model whose tensors
    live in external data files (outside the checksum) cannot load at all - ONNX Runtime
    has no folder to look for them in. Every failure is a
    :class:`~cxr_miliary.models.BundleError` naming the file.
    """
    import hashlib
    import stat

    from .bundle import BundleError

    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(f"{path}: the ONNX file is not a regular file")
        if st.st_size > MAX_ONNX_BYTES:
            raise BundleError(f"{path}: {st.st_size} bytes is too large for an ONNX export (limit {MAX_ONNX_BYTES})")
        data = path.read_bytes()
    except OSError:
        raise BundleError(f"{path}: ONNX file missing or unreadable") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise BundleError(f"{path}: the ONNX file's sha256 does not match the record; the file was changed")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # ORT's memory-pattern planner kept ~1 GB more resident for batches of 16 at 512 px
    # and was not faster without it (40 vs 37 img/s)
    opts.enable_mem_pattern = False
    opts.log_severity_level = 3  # its warnings are about graph optimisations, not the user's data
    if threads:
        opts.intra_op_num_threads = int(threads)
    try:
        return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a crafted or damaged graph, or tensors in external files
        external = "external" in str(exc).lower()
        why = "it keeps tensors in external data files, which are outside the checksum" if external else type(exc).__name__
        raise BundleError(f"{path}: not a loadable ONNX export ({why})") from None


def record_session(folder: str | os.PathLike[str], rec: dict[str, Any] | None, threads: int | None = None) -> Any:
    """A session for a bundle's ONNX file record (``{"file", "sha256"}``), or None: no record, or ONNX Runtime not installed (callers then run PyTorch)."""
    if rec is None:
        return None
    try:
        import onnxruntime  # noqa: F401 - only whether it is installed
    except ImportError:
        return None
    from .bundle import bundle_file

    return onnx_session(bundle_file(Path(folder), rec["file"]), rec["sha256"], threads)


def export_with_parity(
    net: Any,
    x: Any,
    path: str | os.PathLike[str],
    output_names: list[str],
    reference: list[np.ndarray],
    difference: Any,
    tol: float,
    what: str,
    opset: int = DEFAULT_OPSET,
) -> float:
    """The one ONNX export: ``net`` to ``path`` with a dynamic batch, then ONNX Runtime against PyTorch on ``x``.

    Args:
        net: The network (its outputs named ``output_names``).
        x: A batch of inputs (the first traces the graph; all are checked).
        path: The file to write.
        output_names: The graph's outputs.
        reference: PyTorch's outputs on ``x``, in the order compared.
        difference: ``difference(reference, onnx_outputs) -> float``, the figure held to ``tol``.
        tol: The largest difference allowed.
        what: The network's name for the error.
        opset: ONNX opset.

    Returns:
        The difference measured.

    Raises:
        ValueError: Parity failed (the caller's atomic write removes the file).
    """
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(
            net,
            (x[:1],),
            str(path),
            input_names=["image"],
            output_names=output_names,
            dynamic_axes={"image": {0: "batch"}, **{o: {0: "batch"} for o in output_names}},
            opset_version=opset,
            dynamo=False,
        )
    got = onnx_session(path).run(output_names, {"image": x.numpy().astype(np.float32)})
    diff = float(difference(reference, got))
    if diff > tol:
        raise ValueError(f"{what} ONNX parity failed: outputs differ by {diff:.2e} > {tol:.0e}")
    return diff


def _with_activations(model: Any, layer_name: str, gradient: Any = None) -> Any:
    """``model`` returning ``(logit, activations of layer_name[, d logit / d activations])``, traceable for export."""
    import torch

    class WithActivations(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.layer = model.get_submodule(layer_name)
            self.gradient = gradient

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            seen: list[torch.Tensor] = []
            handle = self.layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
            try:
                logit = self.model(x)
            finally:
                handle.remove()
            if self.gradient is None:
                return logit, seen[-1]
            return logit, seen[-1], self.gradient(seen[-1])

    return WithActivations().eval()


def export_onnx(
    bundle: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    check_inputs: Any = None,
    tol: float = PARITY_TOL,
    model: Any = None,
) -> dict[str, Any]:
    """Export the bundle's network to ONNX and check the probabilities agree within ``tol``.

    Args:
        bundle: Bundle folder.
        out: ONNX file to write. When it lies inside the bundle folder, the card records
            it (file, opset, sha256, parity, outputs) so ``Predictor.load(...,
            backend="onnxruntime")`` finds it; otherwise a ``<out>.json`` sidecar holds
            the same record.
        opset: ONNX opset.
        check_inputs: Inputs for the parity check (default: 4 random inputs of the card's size).
        tol: Largest allowed absolute difference in probability.
        model: The bundle's network when the caller already holds it (not read again).

    Returns:
        The record written.

    Raises:
        ValueError: Parity failed (the file is removed).
    """
    import torch

    if model is None:
        model, card = load_bundle(bundle)
    else:
        from .bundle import load_card

        card = load_card(bundle)
    model = model.eval()
    size, chans = card.image_size, card.channels
    x = check_inputs if check_inputs is not None else torch.randn(4, chans, size, size, generator=torch.Generator().manual_seed(0))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    outputs = ["logit"]
    net = model
    from .head_gradient import cam_record

    cam = cam_record(model, card)
    if card.cam_target_layer:
        from .head_gradient import explicit_gradient

        gradient = explicit_gradient(model) if cam["gradient"] == "explicit" else None
        net = _with_activations(model, card.cam_target_layer, gradient)
        outputs = ["logit", "activations"] + (["cam_grad"] if gradient is not None else [])
    with torch.no_grad():
        ref = [model(x).reshape(-1).numpy()]

    def prob_diff(reference: list[np.ndarray], got: list[np.ndarray]) -> float:
        p_ref, p_got = (sigmoid(np.asarray(r[0]).reshape(-1) / card.temperature) for r in (reference, got))
        return float(agreement(p_ref, p_got, card.threshold)["max_abs_prob_diff"])

    with atomic_path(out) as tmp:
        diff = export_with_parity(net, x, tmp, outputs, ref, prob_diff, tol, "classifier (probabilities)", opset)
    record = {
        "file": out.name,
        "opset": opset,
        "sha256": sha256_file(out),
        "parity_max_abs_prob_diff": diff,
        "dynamic_batch": True,
        "outputs": outputs,
        "activations_layer": card.cam_target_layer,
        "weights_sha256": card.weights["sha256"],
    }
    folder = bundle_folder(bundle)
    if out.resolve().parent == folder.resolve():
        update_card(folder, onnx=record, cam=cam)
    else:
        write_text(out.with_name(out.name + ".json"), strict_json.dumps(record, indent=2) + "\n")  # a concurrent reader never sees half a record
    return record


def calibration_inputs(card: Card, n: int = 32, seed: int = 31337) -> np.ndarray:
    """Network inputs (N, C, H, W) from freshly rendered phantoms, for int8 calibration."""
    from ..phantom import render_phantom
    from ..transforms import Preprocess, eval_transform, to_array

    pre = Preprocess.from_dict(card.preprocess)
    transform = eval_transform(pre)
    size = max(512, pre.image_size)
    return np.stack([to_array(render_phantom(seed, i, size=size).display, transform, pre.channels) for i in range(n)])


def quantize_int8(bundle: str | os.PathLike[str], calibration: np.ndarray, *, out_name: str = "model.int8.onnx") -> dict[str, Any]:
    """Static int8 quantisation (QDQ, per-channel weights) of the bundle's ONNX export.

    Args:
        bundle: Bundle folder whose card records an ONNX export (``cxr-miliary export``).
        calibration: Network inputs (N, C, H, W) float32 from representative images
            (phantoms, :func:`calibration_inputs`), used to fix the activation ranges.
        out_name: File written inside the bundle; the card records it as ``onnx_int8``.

    Returns:
        The card record (file, sha256, max |Δp| against the fp32 ONNX on the calibration set).
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .bundle import load_card

    folder = bundle_folder(bundle)
    card = load_card(folder)
    if card.onnx is None:
        raise ValueError(f"{folder}: export to ONNX first (cxr-miliary export --weights {folder} --onnx {folder}/model.onnx)")
    src = card.file(folder, card.onnx)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"image": calibration[i : i + 1].astype(np.float32)} for i in range(len(calibration))])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    out = folder / out_name
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        pre, quant = Path(tmp) / "model.pre.onnx", Path(tmp) / out_name
        quant_pre_process(str(src), str(pre))
        quantize_static(
            str(pre),
            str(quant),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        os.replace(quant, out)

    def probs(path: Path) -> np.ndarray:
        logits = onnx_session(path).run(["logit"], {"image": calibration.astype(np.float32)})[0].reshape(-1)
        return sigmoid(logits / card.temperature)

    diff = agreement(probs(src), probs(out), card.threshold)["max_abs_prob_diff"]
    record = {"file": out_name, "sha256": sha256_file(out), "calibration_images": int(len(calibration)), "max_abs_prob_diff_vs_fp32": diff}
    update_card(folder, onnx_int8=record)
    return record
