"""The network: a plain timm ``nn.Module`` built by one factory (no Lightning here)."""

from __future__ import annotations

import logging
import os

import timm
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file

from .card import canonical_head
from .grid_head import GridClassifier

log = logging.getLogger(__name__)


def create_model(
    backbone: str,
    *,
    pretrained: bool = False,
    pretrained_file: str | os.PathLike[str] | None = None,
    in_chans: int = 1,
    drop_rate: float = 0.0,
    head: str = "global",
    init_from: str | None = None,
) -> nn.Module:
    """Build a one-logit classifier from any timm model name.

    Args:
        backbone: A timm model name (``timm.list_models()``), e.g. ``"efficientnet_b0"``.
        pretrained: Load the hub's pretrained weights (needs internet; the cache is used
            when present).
        pretrained_file: Load pretrained weights from a local file instead (offline
            clusters); ``.safetensors`` preferred. timm drops the mismatched classifier
            and adapts the stem to ``in_chans`` (summing RGB filters for one channel).
        in_chans: Input channels (1 grey, or 3 replicated).
        drop_rate: Dropout before the classifier.
        head: ``"global"`` (timm's own: global average + linear) or ``"grid"``
            (:class:`~cxr_miliary.models.grid_head.GridClassifier`: evidence pooled per
            cell of a 3 x 2 image grid, so the classifier can tell diffuse from one-lung
            or one-zone); ``"zones"`` is the grid head's old name.
        init_from: Starting weights: ``"hub[:tag]"``, a local ``.safetensors`` file, or
            ``"torchxrayvision:<weights or state file>"`` (see
            :mod:`cxr_miliary.models.init_weights`); overrides the two options above.

    Returns:
        The model, outputting (B, 1) logits.
    """
    head = canonical_head(head)
    from .init_weights import TXV_BACKBONE, parse, torchxrayvision_features

    kind, arg = parse(init_from)
    if kind == "hub":
        pretrained, pretrained_file = True, None
        backbone = f"{backbone}.{arg}" if arg else backbone
    elif kind == "file":
        pretrained_file = arg
    if pretrained_file and not os.path.isfile(pretrained_file):
        raise FileNotFoundError(f"{pretrained_file}: pretrained weights file not found")
    kwargs: dict = {"num_classes": 1, "in_chans": in_chans, "drop_rate": drop_rate}
    if head == "grid":  # timm builds the backbone without pooling or classifier
        kwargs = {"num_classes": 0, "global_pool": "", "in_chans": in_chans}
    if pretrained_file and head == "grid" and _is_grid_file(pretrained_file):
        model = GridClassifier(timm.create_model(backbone, **kwargs), drop_rate=drop_rate)
        model.load_state_dict(load_file(os.fspath(pretrained_file)), strict=True)  # continue a grid-head model
        return model
    if pretrained_file:
        net = timm.create_model(backbone, pretrained=True, pretrained_cfg_overlay={"file": os.fspath(pretrained_file)}, **kwargs)
    else:
        net = timm.create_model(backbone, pretrained=pretrained, **kwargs)
    if kind == "torchxrayvision":
        if backbone != TXV_BACKBONE or in_chans != 1:
            raise ValueError(f"TorchXRayVision weights fit backbone {TXV_BACKBONE} with in_chans 1 (got {backbone}, {in_chans})")
        missing, _ = net.load_state_dict(torchxrayvision_features(arg), strict=False)
        if any(k.startswith("features.") for k in missing):
            raise ValueError(f"TorchXRayVision weights do not cover timm's densenet121 features ({sorted(missing)[:3]})")
    return GridClassifier(net, drop_rate=drop_rate) if head == "grid" else net


def _is_grid_file(path: str | os.PathLike[str]) -> bool:
    """Whether a safetensors file holds a whole grid-head model (``net.*`` and ``head.*`` keys)."""
    if not os.fspath(path).endswith(".safetensors"):
        return False
    with safe_open(os.fspath(path), "pt") as fh:
        names = fh.keys()  # safe_open is not iterable itself
        return any(k.startswith(("head.cell.", "head.zone.")) for k in names)


def create_ensemble(backbone: str, members: int, *, in_chans: int = 1, head: str = "global") -> nn.Module:
    """An untrained :class:`~cxr_miliary.models.ensemble.FoldEnsemble` of ``members`` networks (a bundle's weights then fill it)."""
    from .ensemble import FoldEnsemble

    return FoldEnsemble([create_model(backbone, in_chans=in_chans, head=head) for _ in range(int(members))])


def head_name(model: nn.Module) -> str:
    """The card's ``head`` for a network built by :func:`create_model` (an ensemble's: its members')."""
    from .ensemble import FoldEnsemble

    if isinstance(model, FoldEnsemble):
        return head_name(model.members[0])
    return "grid" if isinstance(model, GridClassifier) else "global"


def cam_target_layer(model: nn.Module) -> str:
    """Name of the module Grad-CAM should hook: the last feature stage timm reports (an ensemble's: ``features``)."""
    from .ensemble import FoldEnsemble

    if isinstance(model, FoldEnsemble):
        return "features"
    info = getattr(model, "feature_info", None)
    if info:
        last = info[-1]
        name = last["module"] if isinstance(last, dict) else getattr(last, "module", None)
        if name:
            return str(name).replace("_", ".") if not _has(model, str(name)) and _has(model, str(name).replace("_", ".")) else str(name)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("no convolutional layer to use as Grad-CAM target")
    return convs[-1]


def _has(model: nn.Module, name: str) -> bool:
    try:
        model.get_submodule(name)
        return True
    except AttributeError:
        return False
