"""Grad-CAM on an absolute scale, at the image's resolution, restricted to the lungs.

The maintained ``grad-cam`` library provides the hooks and every method's weighting
(Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM, EigenCAM), used as a context manager so the
hooks are always released. Only its last step is replaced: the library rescales every
map to its own min-max, which makes a confident negative look as "hot" as a positive.
Here the raw map's shape is kept (normalised by its maximum) and multiplied by the
calibrated probability, so a map's intensity means the same thing on every image.

Two ways to the raw map, with the same weighting code:

- :func:`raw_cam`, the eager reference: the library's own forward and backward hooks.
- :func:`raw_cam_from`, the fast path: activations and the head's gradient that the
  runtime already computed in its forward pass (see :mod:`cxr_miliary.models.head_gradient`),
  weighted by the library's ``get_cam_image`` of the chosen method. Without torch (an
  ONNX-only deployment) the library cannot be imported; Grad-CAM's weighting - the
  spatial mean of the gradient - is then applied directly, and the other methods say
  they need the ``[torch]`` extra.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

#: CAM methods by name -> the grad-cam class. The library is imported on first use: it
#: pulls in torchvision (1.7 s), which a `predict --no-cam` or a plain `score` need not pay.
METHODS = {"gradcam": "GradCAM", "gradcam++": "GradCAMPlusPlus", "hirescam": "HiResCAM", "layercam": "LayerCAM", "eigencam": "EigenCAM"}


def _raw(method: type) -> type:
    """The library's CAM class, returning raw non-negative maps at feature resolution."""

    class Raw(method):  # type: ignore[misc, valid-type]
        def compute_cam_per_layer(self, input_tensor, targets, eigen_smooth):
            acts = [a.cpu().data.numpy() for a in self.activations_and_grads.activations]
            grads = [g.cpu().data.numpy() for g in self.activations_and_grads.gradients]
            out = []
            for i, layer in enumerate(self.target_layers):
                cam = self.get_cam_image(
                    input_tensor, layer, targets, acts[i] if i < len(acts) else None, grads[i] if i < len(grads) else None, eigen_smooth
                )
                out.append(np.maximum(cam, 0)[:, None])
            return out

        def aggregate_multi_layers(self, cam_per_target_layer):
            return np.mean(np.concatenate(cam_per_target_layer, axis=1), axis=1)

    Raw.__name__ = f"Raw{method.__name__}"
    return Raw


@functools.cache
def _raw_class(method: str) -> type:
    import pytorch_grad_cam

    return _raw(getattr(pytorch_grad_cam, METHODS[method]))


def raw_cam(model: nn.Module, target_layer: nn.Module, x: torch.Tensor, method: str = "gradcam") -> np.ndarray:
    """Raw CAMs (B, h, w) for the positive logit of a one-logit model, in fp32.

    The target is the logit itself (``BinaryClassifierOutputTarget(1)``): gradients point
    towards "more miliary" whatever the sign of the logit, so negatives are handled too.
    """
    if method not in METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(METHODS)}")
    # Only the target layer's parameters need gradients for the map to exist: freezing the
    # rest for the call stops the backward pass at the target layer (about 2x cheaper).
    own = {id(p) for p in target_layer.parameters()}
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(id(p) in own)
        from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget

        with _raw_class(method)(model=model, target_layers=[target_layer]) as cam:  # hooks released on exit
            maps = cam(input_tensor=x.float(), targets=[BinaryClassifierOutputTarget(1)] * len(x))
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)
    return np.asarray(maps, dtype=np.float32)


def raw_cam_from(activations: np.ndarray, gradients: np.ndarray, method: str = "gradcam") -> np.ndarray:
    """Raw CAMs (B, h, w) from activations and d(logit)/d(activations) (both (B, C, h, w)).

    The same weighting as :func:`raw_cam` (the library's ``get_cam_image``), without a
    forward or backward pass.
    """
    if method not in METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(METHODS)}")
    acts = np.asarray(activations, dtype=np.float32)
    grads = np.asarray(gradients, dtype=np.float32)
    if method == "gradcam":
        # Grad-CAM's weighting is the spatial mean of the gradient per channel, as in the
        # library's GradCAM.get_cam_weights (a test holds the two equal). Written here
        # because importing the library imports torch and torchvision (2-3 s of a
        # one-image CLI run) and is impossible in an install without torch.
        weights = grads.mean(axis=(2, 3))
        return np.maximum((weights[:, :, None, None] * acts).sum(axis=1), 0).astype(np.float32)
    try:
        cls = _raw_class(method)
    except ImportError:  # no torch / grad-cam in this install
        raise ImportError(f"the {method} map needs the grad-cam library (pip install 'cxr-miliary[torch]')") from None
    cam = cls.__new__(cls)  # no model and no hooks: only the weighting is used
    cam.activations_and_grads = _NoHooks()  # what the library's __del__ releases

    return np.maximum(np.asarray(cam.get_cam_image(None, None, None, acts, grads, False), dtype=np.float32), 0)


def to_image(cam: np.ndarray, input_size: int, shape: tuple[int, int], box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Map a feature-resolution CAM back onto the original image (undo resize + centre pad).

    With ``box`` (``x0, y0, x1, y1`` in ``shape``'s pixels: the region the network read),
    the map covers that box and is 0 on the rest of the image, which the network never saw.
    """
    from ..transforms import letterbox

    h, w = shape
    if box is not None and tuple(box) != (0, 0, w, h):
        x0, y0, x1, y1 = box
        out = np.zeros((h, w), dtype=np.float32)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = to_image(cam, input_size, (y1 - y0, x1 - x0))
        return out
    top, left, nh, nw = letterbox(shape, input_size)
    full = cv2.resize(cam.astype(np.float32), (input_size, input_size), interpolation=cv2.INTER_LINEAR)
    crop = full[top : top + nh, left : left + nw]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)


def absolute_map(raw: np.ndarray, probability: float, lung_mask: np.ndarray | None) -> np.ndarray:
    """Shape normalised by its maximum inside the lungs, times the probability; 0 outside the lungs."""
    m = np.maximum(raw, 0).astype(np.float32)
    if lung_mask is not None and lung_mask.any():
        # a soft edge: a few pixels of grace so subpleural nodules are not clipped;
        # blurred on a small copy (the edge is smooth at any scale) to keep this cheap
        h, w = m.shape
        f = min(1.0, 256 / max(h, w))
        small = cv2.resize(lung_mask.astype(np.float32), (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        soft = cv2.resize(cv2.GaussianBlur(small, (0, 0), 1.0), (w, h), interpolation=cv2.INTER_LINEAR)
        m = m * np.clip(soft * 2, 0, 1)
    peak = float(m.max())
    if peak <= 0:
        return np.zeros_like(m)
    return np.clip(m / peak * float(probability), 0.0, 1.0)


class _NoHooks:
    """Stands in for grad-cam's hook holder on an instance used only for its weighting."""

    def release(self) -> None:
        """Nothing to release."""
