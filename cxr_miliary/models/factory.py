"""The network: a plain timm ``nn.Module`` built by one factory (no Lightning here)."""

from __future__ import annotations

import logging
import os

import timm
import torch.nn as nn

log = logging.getLogger(__name__)


def create_model(
    backbone: str,
    *,
    pretrained: bool = False,
    pretrained_file: str | os.PathLike[str] | None = None,
    in_chans: int = 1,
    drop_rate: float = 0.0,
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

    Returns:
        The model, outputting (B, 1) logits.
    """
    kwargs: dict = {"num_classes": 1, "in_chans": in_chans, "drop_rate": drop_rate}
    if pretrained_file:
        if not os.path.isfile(pretrained_file):
            raise FileNotFoundError(f"{pretrained_file}: pretrained weights file not found")
        return timm.create_model(backbone, pretrained=True, pretrained_cfg_overlay={"file": os.fspath(pretrained_file)}, **kwargs)
    return timm.create_model(backbone, pretrained=pretrained, **kwargs)


def cam_target_layer(model: nn.Module) -> str:
    """Name of the module Grad-CAM should hook: the last feature stage timm reports."""
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
