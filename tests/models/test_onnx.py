"""ONNX export: logit and activations outputs, parity checked, records written atomically."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cxr_miliary.models import load_bundle, load_card
from cxr_miliary.models.onnx import calibration_inputs, export_onnx, onnx_session

pytest.importorskip("onnxruntime")


def test_export_outside_the_bundle_writes_a_sidecar_and_three_outputs(tiny_bundle, tmp_path):
    rec = export_onnx(tiny_bundle, tmp_path / "m.onnx")
    assert json.loads((tmp_path / "m.onnx.json").read_text()) == rec
    assert "onnx" not in load_card(tiny_bundle).to_dict()  # the bundle itself untouched
    sess = onnx_session(tmp_path / "m.onnx", rec["sha256"])
    x = np.random.default_rng(0).random((2, 1, 128, 128)).astype(np.float32)
    logit, acts, grads = sess.run(None, {"image": x})
    model, card = load_bundle(tiny_bundle)
    seen = []
    layer = model.get_submodule(card.cam_target_layer)
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    handle.remove()
    np.testing.assert_allclose(logit, ref, atol=1e-4)
    np.testing.assert_allclose(acts, seen[0].numpy(), atol=1e-4)
    a = torch.from_numpy(acts).requires_grad_(True)
    (ref_grad,) = torch.autograd.grad(model.forward_head(a).sum(), a)
    np.testing.assert_allclose(grads, ref_grad.numpy(), atol=1e-6)  # the head's gradient, exported in closed form


def test_failed_parity_leaves_no_file(tiny_bundle, tmp_path):
    with pytest.raises(ValueError, match="parity failed"):
        export_onnx(tiny_bundle, tmp_path / "m.onnx", tol=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_calibration_inputs_follow_the_card(tiny_bundle):
    x = calibration_inputs(load_card(tiny_bundle), n=2)
    assert x.shape == (2, 1, 128, 128) and x.dtype == np.float32


def test_an_export_with_external_data_is_refused(tiny_bundle, tmp_path):
    """Tensors kept in a side file would be outside the checksum: such a model never loads."""
    onnx = pytest.importorskip("onnx")
    from cxr_miliary.models import BundleError

    rec = export_onnx(tiny_bundle, tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    onnx.save_model(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    from cxr_miliary.models import sha256_file

    with pytest.raises(BundleError, match="external data"):
        onnx_session(tmp_path / "ext.onnx", sha256_file(tmp_path / "ext.onnx"))
    assert onnx_session(tmp_path / "m.onnx", rec["sha256"]) is not None
