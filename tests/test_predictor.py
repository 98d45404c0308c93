"""Predictor: calibrated probability, CAM at image resolution, schema, determinism, safety."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from cxr_miliary import Predictor
from cxr_miliary.calibration import sigmoid
from cxr_miliary.models import BundleError
from cxr_miliary.phantom import render_phantom

SCHEMA_KEYS = {"probability", "positive", "threshold", "model", "distribution", "warnings", "image", "disclaimer"}


def test_predict_probability_is_temperature_scaled(tiny_bundle, phantom_dir):
    p = Predictor.load(tiny_bundle)
    pred = p.predict(phantom_dir / "images" / "ph0021_000000.dcm")
    assert pred.probability == pytest.approx(float(sigmoid(pred.logit / 1.5)), abs=1e-9)
    assert pred.positive == (pred.probability >= 0.5)
    assert pred.cam.shape == (256, 256) and pred.cam.dtype == np.float32
    assert pred.cam.min() >= 0.0 and pred.cam.max() <= pred.probability + 1e-6
    assert pred.lung_mask.shape == (256, 256) and pred.lung_mask.any()
    assert (pred.cam[~pred.lung_mask] < 0.5 * pred.cam.max() + 1e-9).mean() > 0.95  # restricted to the lungs


def test_same_input_same_output(tiny_bundle, phantom_dir):
    p = Predictor.load(tiny_bundle)
    a = p.predict(phantom_dir / "images" / "ph0021_000001.png")
    b = p.predict(phantom_dir / "images" / "ph0021_000001.png")
    assert a.to_dict() == b.to_dict() and np.array_equal(a.cam, b.cam)


def test_json_schema_golden(tiny_bundle, phantom_dir):
    d = Predictor.load(tiny_bundle).predict(phantom_dir / "images" / "ph0021_000002.dcm", threshold=0.0).to_dict()
    assert set(d) >= SCHEMA_KEYS and {"differential", "recommendations"} <= set(d)
    assert set(d["model"]) == {"name", "sha256", "runtime"} and len(d["model"]["sha256"]) == 64
    dist = d["distribution"]
    assert set(dist) == {"left", "right", "zones", "involved_zones", "pattern"}
    assert set(dist["zones"]) == {"right-upper", "right-middle", "right-lower", "left-upper", "left-middle", "left-lower"}
    assert dist["pattern"] != "none"  # threshold 0 makes it positive: a positive's map has a pattern
    assert abs(dist["left"] + dist["right"] - 1) < 1e-3
    assert all(isinstance(c["conditions"], list) for c in d["differential"])
    assert "not a diagnosis" in d["disclaimer"]
    json.dumps(d)  # serialisable
    neg = Predictor.load(tiny_bundle).predict(phantom_dir / "images" / "ph0021_000002.dcm", threshold=1.0).to_dict()
    assert "differential" not in neg and neg["distribution"]["pattern"] == "none"


def test_hooks_released_and_memory_flat(tiny_bundle):
    import resource

    p = Predictor.load(tiny_bundle)
    img = render_phantom(60, 0, size=160).display
    for _ in range(20):
        p.predict(img)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(200):
        p.predict(img)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    hooks = sum(len(m._forward_hooks) + len(m._backward_hooks) + len(getattr(m, "_forward_pre_hooks", {})) for m in p.model.modules())
    assert hooks == 0
    assert grown_mb < 50, grown_mb


def test_cam_methods_and_negative_logits(tiny_bundle):
    p = Predictor.load(tiny_bundle)
    img = render_phantom(60, 1, size=128).display
    for method in ("gradcam", "gradcam++", "hirescam", "layercam", "eigencam"):
        pred = p.predict(img, cam_method=method)
        assert pred.cam.shape == (128, 128) and np.isfinite(pred.cam).all()
    with pytest.raises(ValueError):
        p.predict(img, cam_method="banana")


def test_absolute_scale_confident_negative_is_nearly_empty(tiny_bundle):
    p = Predictor.load(tiny_bundle)
    img = render_phantom(60, 2, size=128).display
    p.temperature = 1e-3  # make the same logit confidently negative or positive
    pred = p.predict(img)
    assert (pred.cam.max() < 0.01) == (pred.probability < 0.01)


def test_malicious_pickle_refused(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    (tmp_path / "model.pt").write_bytes(pickle.dumps(Evil()))
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(BundleError):
        Predictor.load(tmp_path / "model.pt")
    with pytest.raises(BundleError):
        Predictor.load(tmp_path)
    assert not marker.exists()


def test_inference_never_imports_lightning(tiny_bundle, phantom_dir):
    code = (
        "import sys\n"
        "from cxr_miliary import Predictor\n"
        f"Predictor.load({str(tiny_bundle)!r}).predict({str(phantom_dir / 'images' / 'ph0021_000000.png')!r})\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')]\n"
        "print('LIGHTNING' if bad else 'CLEAN', bad[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.stdout.startswith("CLEAN"), out.stdout + out.stderr[-2000:]


def test_default_bundle_env_var(tiny_bundle, monkeypatch):
    monkeypatch.setenv("CXR_MILIARY_WEIGHTS", str(tiny_bundle))
    assert Predictor.from_pretrained().model_info["name"] == "tiny-test"
