"""Training data: manifests from public datasets, patient-level splits, DataModule, cache.

Names load on first use (PEP 562), so importing a light part (e.g. the label policy for
the CLI's help) does not pull in Lightning and torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "prepare_cache": ".cache",
    "MiliaryDataModule": ".datamodule",
    "PhantomSpec": ".datamodule",
    "EpochSampler": ".dataset",
    "ManifestDataset": ".dataset",
    "collate_skip": ".dataset",
    "DEFAULT_POSITIVE_TERMS": ".labels",
    "parse_label_list": ".labels",
    "BuildReport": ".manifests",
    "csv_manifest": ".manifests",
    "folder_manifest": ".manifests",
    "nih_manifest": ".manifests",
    "padchest_manifest": ".manifests",
    "assign_splits": ".splits",
    "summarise": ".splits",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
