"""Training (Lightning): the module, calibration + bundle export, the LightningCLI entry point."""

from .bundle_export import ExportBundle, bundle_from_checkpoint, calibrate, load_checkpoint, predict_logits, write_bundle
from .console import drop_lightning_adverts, lightning_logs_through_root
from .lung_module import ExportLungBundle, LungFieldsModule
from .module import MiliaryModule
from .prediction_writer import ScoreWriter

# imported by the CLI after it set up logging: Lightning lines once, in the CLI's format, no adverts
lightning_logs_through_root()
drop_lightning_adverts()

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
