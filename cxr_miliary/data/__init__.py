"""Training data: manifests from public datasets, patient-level splits, DataModule, cache."""

from .cache import prepare_cache
from .datamodule import MiliaryDataModule, PhantomSpec
from .dataset import EpochSampler, ManifestDataset, collate_skip
from .labels import DEFAULT_POSITIVE_TERMS, parse_label_list
from .manifests import BuildReport, csv_manifest, folder_manifest, nih_manifest, padchest_manifest
from .splits import assign_splits, summarise

__all__ = [
    "DEFAULT_POSITIVE_TERMS",
    "BuildReport",
    "ManifestDataset",
    "MiliaryDataModule",
    "PhantomSpec",
    "EpochSampler",
    "assign_splits",
    "collate_skip",
    "csv_manifest",
    "folder_manifest",
    "nih_manifest",
    "padchest_manifest",
    "parse_label_list",
    "prepare_cache",
    "summarise",
]
