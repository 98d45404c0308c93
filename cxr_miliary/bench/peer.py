"""``cxr-miliary bench peer`` (``--vs-peer``): ``score --cam-dir`` against what a user would run instead.

The usual alternative for a chest film with a heatmap: TorchXRayVision's DenseNet-121 at
512 px, one image at a time, with pytorch-grad-cam's Grad-CAM and an overlay written per
film. TorchXRayVision's weights are not downloaded (nothing is, here): the network runs
with random weights, which does not change its speed. Both run as whole processes on the
same DICOM files (start-up, imports and writing included), a few times each; the figure is
the median wall time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The peer's script, run with this Python: read each DICOM with pydicom, TorchXRayVision's
#: own normalisation and resizer, Grad-CAM on its last dense block, an overlay PNG per film.
PEER_SCRIPT = r"""
import sys
from pathlib import Path

import numpy as np
import pydicom
import torch
import torchxrayvision as xrv
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
model = xrv.models.DenseNet(weights=None).eval()  # random weights: the same arithmetic as the trained ones
resize = xrv.datasets.XRayResizer(512, engine="cv2")
with GradCAM(model=model, target_layers=[model.features.denseblock4]) as cam:
    for k, f in enumerate(sys.argv[2:]):
        ds = pydicom.dcmread(f)
        img = pydicom.pixels.apply_voi_lut(ds.pixel_array, ds).astype(np.float32)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            img = img.max() - img
        img = xrv.datasets.normalize(img, float(img.max()))[None]
        x = torch.from_numpy(resize(img))[None]
        heat = cam(input_tensor=x, targets=[ClassifierOutputTarget(0)])[0]
        grey = (x[0, 0].numpy() + 1024) / 2048
        rgb = show_cam_on_image(np.repeat(grey[..., None], 3, axis=2), heat, use_rgb=True)
        Image.fromarray(rgb).save(out / f"{k:05d}.png")
"""


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {done.stderr.strip()[-500:]}")
    return time.perf_counter() - t


def peer_bench(weights: str | None, *, n: int = 16, size: int = 2048, repeats: int = 3, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Median whole-process wall time of the peer and of ``score --cam-dir`` (and ``score --cam``) on the same ``n`` DICOMs."""
    from ..inference.fastpath import machine
    from ..phantom import generate_phantoms

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        man = generate_phantoms(n, root / "films", seed=9393, size=size, formats=("dcm",), workers=2)
        files = sorted(str(p) for p in (root / "films" / "images").glob("*.dcm"))
        script = root / "peer.py"
        script.write_text(PEER_SCRIPT)
        w = ["--weights", weights] if weights else []
        ours = [sys.executable, "-m", "cxr_miliary", "--quiet", "score", *files, *w]
        runs: dict[str, list[float]] = {"peer": [], "score_cam_dir": [], "score_cam": []}
        _wall([*ours, "--out", str(root / "warm.csv")])  # the first run of a model on a machine measures its fast path once
        for r in range(repeats):
            runs["peer"].append(_wall([sys.executable, str(script), str(root / f"peer{r}"), *files]))
            runs["score_cam_dir"].append(_wall([*ours, "--out", str(root / f"s{r}.csv"), "--cam-dir", str(root / f"cams{r}")]))
            runs["score_cam"].append(_wall([*ours, "--out", str(root / f"c{r}.csv"), "--cam"]))
        sizes = [p.stat().st_size for p in (root / "cams0").iterdir()]
        assert man.exists()
    med = {k: statistics.median(v) for k, v in runs.items()}
    res = {
        "machine": machine("cpu"),
        "films": n,
        "size": size,
        "repeats": repeats,
        **{f"{k}_s": v for k, v in med.items()},
        "runs": runs,
        "speedup_vs_peer": med["peer"] / med["score_cam_dir"],
        "cam_dir_vs_cam": med["score_cam"] / med["score_cam_dir"],
        "mb_per_film": sum(sizes) / n / 1e6,
    }
    log(
        f"{n} phantom DICOMs at {size}², {res['machine']}, whole processes, median of {repeats}:\n"
        f"  TorchXRayVision DenseNet-121 at 512 px + pytorch-grad-cam, one image at a time, an overlay PNG each: {med['peer']:.1f} s\n"
        f"  cxr-miliary score --cam-dir (compact maps + JPEG overlays, {res['mb_per_film']:.2f} MB per film): {med['score_cam_dir']:.1f} s "
        f"-> {res['speedup_vs_peer']:.1f}x the alternative\n"
        f"  cxr-miliary score --cam (maps computed, summary columns only): {med['score_cam']:.1f} s "
        f"(--cam-dir runs at {res['cam_dir_vs_cam']:.2f}x its speed)"
    )
    return res
