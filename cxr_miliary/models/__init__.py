"""Networks and model bundles (timm + safetensors; no Lightning)."""

from .bundle import BundleError, Card, load_bundle, load_card, read_card, save_bundle, sha256_file, update_card
from .factory import cam_target_layer, create_model, head_name

__all__ = [
    "BundleError",
    "Card",
    "cam_target_layer",
    "create_model",
    "head_name",
    "load_bundle",
    "load_card",
    "read_card",
    "save_bundle",
    "sha256_file",
    "update_card",
]
