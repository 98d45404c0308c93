"""A fold ensemble as one network: K models of one architecture, their logits averaged.

Cross-validation trains K models; serving them as K bundles would mean K runtimes, K maps
and K verdicts. Instead the ensemble is one ``nn.Module`` that every door loads like any
bundle: its feature map is the K members' feature maps side by side (the module
``features``, the CAM target layer), and its head splits that map back into the members'
parts, runs each member's own head and averages the logits. Because the ensemble's logit
is a mean of heads over disjoint channels:

- Grad-CAM of the ensemble logit on ``features`` is the ensemble's map (the members'
  weighted activations summed, divided by K, then the ReLU);
- the head's gradient has a closed form whenever every member's has (each member's
  gradient over its channels, divided by K): the ONNX export carries it and maps cost one
  forward pass, as for a single model;
- the training-distribution reference is taken on the concatenated features.
"""

from __future__ import annotations

import torch
from torch import nn

from .grid_head import GridClassifier


class _Features(nn.Module):
    """The members' feature maps side by side (holds no parameters of its own: the members live in the ensemble)."""

    def __init__(self, members: nn.ModuleList) -> None:
        super().__init__()
        object.__setattr__(self, "_members", members)  # not a submodule: each weight is in the state dict once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.forward_features(x) for m in self._members], dim=1)


def _head(member: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """A member's head on its feature map: the grid head's, or timm's ``forward_head``."""
    return member.head(features) if isinstance(member, GridClassifier) else member.forward_head(features)


class FoldEnsemble(nn.Module):
    """The mean of K networks' logits, as one network with one feature map.

    Args:
        members: The K networks (one architecture: the same feature map shape).
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError("an ensemble needs at least 2 members")
        self.members = nn.ModuleList(members)
        self.features = _Features(self.members)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, K*C, h, w): every member's last feature map."""
        return self.features(x)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        """The mean of the members' heads, each on its own channels."""
        parts = f.chunk(len(self.members), dim=1)
        logits = [_head(m, p).reshape(len(f), -1) for m, p in zip(self.members, parts, strict=True)]
        return torch.stack(logits, dim=0).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1) logits."""
        return self.forward_head(self.forward_features(x))


class EnsembleGradient(nn.Module):
    """d logit / dA of a :class:`FoldEnsemble` from its members' closed forms: each member's gradient on its channels, over K."""

    def __init__(self, gradients: list[nn.Module]) -> None:
        super().__init__()
        self.gradients = nn.ModuleList(gradients)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """(B, K*C, H, W) -> (B, K*C, H, W)."""
        parts = a.chunk(len(self.gradients), dim=1)
        return torch.cat([g(p) for g, p in zip(self.gradients, parts, strict=True)], dim=1) / len(self.gradients)
