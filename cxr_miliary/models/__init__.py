"""Networks and model bundles (timm + safetensors; no Lightning)."""

from .bundle import BundleError, load_bundle, read_card, save_bundle, sha256_file
from .factory import cam_target_layer, create_model

__all__ = ["BundleError", "cam_target_layer", "create_model", "load_bundle", "read_card", "save_bundle", "sha256_file"]
