"""The gradient of the logit with respect to the CAM layer's activations, from the head alone.

Grad-CAM needs two things: the CAM layer's activations A and d(logit)/dA. When the CAM
layer's output *is* the network's last feature map (``forward_features``), everything
after it is the head (global or grid pooling and a small MLP or linear layer), so the
gradient needs only the head, not a backward pass through the backbone. This module

- finds the head (timm's ``forward_head``, or the grid head) and checks, numerically, that
  the CAM layer's output is what the head reads (:func:`check_separable`);
- gives the gradient in closed form for the heads the project ships - global average +
  linear, and the grid head - as plain tensor operations (:func:`explicit_gradient`),
  which export to ONNX beside the logit, so ONNX Runtime returns logit, activations and
  gradient in one run and a map needs no autograd (and no torch) at run time;
- and for any other head, autograd through the head alone (:func:`head_function`).

A model whose CAM layer is not its last feature map (e.g. timm's choice for EfficientNet,
before its 1x1 head convolution) is not separable: it keeps the eager grad-cam path, and
the bundle's card says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .grid_head import GRID, GridClassifier, GridHead


def head_function(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The part of ``model`` after its last feature map, as a function of that map (or None)."""
    from .ensemble import FoldEnsemble

    if isinstance(model, FoldEnsemble):
        return model.forward_head
    if isinstance(model, GridClassifier):
        return model.head
    if hasattr(model, "forward_head"):
        return model.forward_head  # type: ignore[return-value]
    return None


class GlobalAverageLinearGradient(nn.Module):
    """d logit / dA for ``logit = w . mean_hw(A) + b``: ``w / (H W)`` at every position."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        w = self.linear.weight[0].to(a.dtype)
        return (w[None, :, None, None] / (a.shape[-2] * a.shape[-1])).expand_as(a).contiguous()


class GridHeadGradient(nn.Module):
    """d logit / dA through :class:`~cxr_miliary.models.grid_head.GridHead`, written out.

    Forward: cell means (3 x 2 grid) -> shared 1x1 conv -> ReLU -> flatten -> linear ->
    ReLU -> linear. Backward, by the chain rule: the last linear's weights, masked by the
    hidden ReLU, through the first linear, masked by the cell ReLU, through the 1x1 conv,
    then each cell's gradient spread evenly over the pixels it averaged (cells that share
    a border row or column both contribute there, exactly as the pooling's bins overlap).
    """

    def __init__(self, head: GridHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        head = self.head
        pooled = head.pool(a)  # (B, C, 3, 2)
        z = head.cell(pooled)  # (B, K, 3, 2)
        hidden_in = head.mix[0](torch.flatten(torch.relu(z), 1))  # (B, K')
        g_hidden = head.mix[2].weight[0][None, :] * (hidden_in > 0).to(a.dtype)  # (B, K')
        g_cells = (g_hidden @ head.mix[0].weight).reshape(z.shape) * (z > 0).to(a.dtype)  # (B, K, 3, 2)
        g_pooled = torch.einsum("bkij,kc->bcij", g_cells, head.cell.weight[:, :, 0, 0])  # (B, C, 3, 2)
        spread = _cell_spread(int(a.shape[-2]), int(a.shape[-1])).to(a.dtype)  # (6, H, W); a constant in an export
        return torch.einsum("bcq,qhw->bchw", g_pooled.flatten(2), spread)


def _cell_spread(h: int, w: int) -> torch.Tensor:
    """(cells, H, W): 1 / (cell area) on each grid cell's pixels (the pooling's bins, overlaps included)."""
    n, m = GRID
    out = torch.zeros(n * m, h, w)
    for i in range(n):
        r0, r1 = (i * h) // n, ((i + 1) * h + n - 1) // n
        for j in range(m):
            c0, c1 = (j * w) // m, ((j + 1) * w + m - 1) // m
            out[i * m + j, r0:r1, c0:c1] = 1.0 / ((r1 - r0) * (c1 - c0))
    return out


def explicit_gradient(model: nn.Module) -> nn.Module | None:
    """The closed-form gradient module for the model's head, when the project knows it."""
    from .ensemble import EnsembleGradient, FoldEnsemble

    if isinstance(model, FoldEnsemble):
        parts = [explicit_gradient(m) for m in model.members]
        return EnsembleGradient(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
    if isinstance(model, GridClassifier):
        return GridHeadGradient(model.head)
    pool, fc = getattr(model, "global_pool", None), model.get_classifier() if hasattr(model, "get_classifier") else None
    if isinstance(fc, nn.Linear) and getattr(pool, "pool_type", None) == "avg" and fc.out_features == 1:
        return GlobalAverageLinearGradient(fc)
    return None


def check_separable(model: nn.Module, layer: str, size: int, channels: int) -> dict[str, Any]:
    """Whether maps can come from the head alone, checked on a random input.

    Returns:
        ``{"separable": bool, "gradient": "explicit"|"autograd"|None, "reason": str}``.
    """
    head = head_function(model)
    if head is None or not hasattr(model, "forward_features"):
        return {"separable": False, "gradient": None, "reason": "the network has no separate head (forward_features / forward_head)"}
    device = next(model.parameters()).device
    x = torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(0)).to(device)

    seen: list[torch.Tensor] = []
    handle = model.get_submodule(layer).register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        with torch.no_grad():
            features = model.forward_features(x)
    finally:
        handle.remove()
    if not seen or seen[-1].shape != features.shape or not torch.allclose(seen[-1], features, atol=1e-5, rtol=1e-5):
        return {
            "separable": False,
            "gradient": None,
            "reason": f"the CAM layer {layer} is not the last feature map (layers between it and the head need the full backward pass)",
        }
    a = features.detach().requires_grad_(True)
    (reference,) = torch.autograd.grad(head(a).sum(), a)
    explicit = explicit_gradient(model)
    if explicit is not None:
        with torch.no_grad():
            if torch.allclose(explicit(a.detach()), reference, atol=1e-6, rtol=1e-4):
                return {"separable": True, "gradient": "explicit", "reason": "closed-form head gradient (exported with the ONNX model)"}
    return {"separable": True, "gradient": "autograd", "reason": "autograd through the head alone (no closed form for this head)"}


def cam_record(model: nn.Module, card: Any) -> dict[str, Any]:
    """The card's ``cam`` record: whether this network's maps can come from the head alone, and why."""
    if not card.cam_target_layer:
        return {"separable": False, "gradient": None, "reason": "the card names no CAM layer"}
    return check_separable(model, card.cam_target_layer, card.image_size, card.channels)
