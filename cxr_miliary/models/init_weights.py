"""Where a network's starting weights come from (``model.init_from``).

- ``hub`` or ``hub:<tag>``: timm's pretrained weights (e.g. ``hub:a1_in1k``; needs
  internet), with the licence timm's pretrained config records.
- a local ``.safetensors`` file: weights someone downloaded before (offline clusters).
- ``torchxrayvision:<weights>`` (e.g. ``torchxrayvision:densenet121-res224-all``): the
  DenseNet-121 TorchXRayVision trained on eight public chest X-ray datasets, loaded
  through the ``torchxrayvision`` package (``pip install 'cxr-miliary[txv]'``) and mapped
  onto timm's ``densenet121`` (the feature layers have the same names; TorchXRayVision's
  18-finding classifier is dropped). ``torchxrayvision:/path/state.safetensors`` reads a
  saved TorchXRayVision state dict instead. TorchXRayVision feeds one channel of pixels
  scaled to [-1024, 1024]: that is ``(x - 0.5) / (1/2048)`` for display values x in
  [0, 1], so the data must use ``mean: 0.5`` and ``std: 0.00048828125``
  (``configs/padchest_txv.yaml``); the module refuses other settings.
"""

from __future__ import annotations

import os
from typing import Any

TXV_MEAN, TXV_STD = 0.5, 1.0 / 2048.0
TXV_BACKBONE = "densenet121"


def parse(init_from: str | None) -> tuple[str, str]:
    """(kind, argument): kind is ``"none"``, ``"hub"``, ``"file"`` or ``"torchxrayvision"``."""
    if not init_from:
        return "none", ""
    if init_from == "hub" or init_from.startswith("hub:"):
        return "hub", init_from[4:]
    if init_from.startswith("torchxrayvision:"):
        return "torchxrayvision", init_from.split(":", 1)[1]
    if init_from.endswith(".safetensors"):
        return "file", init_from
    raise ValueError(f"init_from must be 'hub[:tag]', a .safetensors file or 'torchxrayvision:<weights>' (got {init_from!r})")


def torchxrayvision_features(weights: str) -> dict[str, Any]:
    """The feature layers of a TorchXRayVision DenseNet-121, keyed as timm's ``densenet121`` names them."""
    if weights.endswith(".safetensors"):
        from safetensors.torch import load_file

        if not os.path.isfile(weights):
            raise FileNotFoundError(f"{weights}: TorchXRayVision state file not found")
        state = load_file(weights)
    else:
        try:
            import torchxrayvision as xrv
        except ImportError:
            raise ImportError("TorchXRayVision weights need the torchxrayvision package (pip install 'cxr-miliary[txv]')") from None
        state = xrv.models.DenseNet(weights=weights).state_dict()
    return {k: v for k, v in state.items() if k.startswith("features.")}


def record(kind: str, arg: str, backbone: str) -> dict[str, Any]:
    """What the card says about the starting weights (source, licence, expected input)."""
    if kind == "hub":
        licence = None
        try:
            import timm

            cfg = timm.models.get_pretrained_cfg(f"{backbone}.{arg}" if arg else backbone)
            licence = getattr(cfg, "license", None) if cfg is not None else None
        except Exception:  # the record is informative; a model without a config still trains
            licence = None
        return {"source": f"timm hub {backbone}{'.' + arg if arg else ''}", "licence": licence}
    if kind == "torchxrayvision":
        return {
            "source": f"TorchXRayVision {arg}",
            "licence": "Apache-2.0 (TorchXRayVision; check each training dataset's terms)",
            "input": {
                "channels": 1,
                "mean": TXV_MEAN,
                "std": TXV_STD,
                "resolution": 224,
                "note": "pixels scaled to [-1024, 1024] as TorchXRayVision does",
            },
        }
    if kind == "file":
        return {"source": f"local file {os.path.basename(arg)}", "licence": None}
    return {"source": "random initialisation", "licence": None}
