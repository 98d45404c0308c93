"""Training (Lightning): the module, calibration + bundle export, the LightningCLI entry point."""

from .bundle_export import ExportBundle, bundle_from_checkpoint, calibrate, load_checkpoint, predict_logits, write_bundle
from .lung_module import ExportLungBundle, LungFieldsModule
from .module import MiliaryModule
from .prediction_writer import ScoreWriter

__all__ = [
    "ExportBundle",
    "ExportLungBundle",
    "LungFieldsModule",
    "MiliaryModule",
    "ScoreWriter",
    "bundle_from_checkpoint",
    "calibrate",
    "load_checkpoint",
    "predict_logits",
    "write_bundle",
]
