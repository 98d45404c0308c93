"""A bundle's reference of its training distribution, for "is this image what the model knows?".

The reference is the mean and a shrunk inverse covariance of the network's pooled
features (the CAM target layer's activations averaged over space, which the forward pass
computes anyway) on the training images, and a limit: a stated quantile of the
Mahalanobis distances of the *validation* images. An image farther than the limit is
out of distribution: the model has not seen anything like it, and its probability is not
to be trusted (a phantom-trained model on a real film, a scanner or processing the
training data never had, a crop of one lung).

The covariance is shrunk towards a scaled identity by the Ledoit-Wolf formula
(scikit-learn's): with a few
hundred to a few thousand images and 512 features the sample covariance is singular or
nearly so. The tensors live in ``reference.safetensors`` inside the bundle, recorded in
the card with their sha256 like the weights; the limit and how it was chosen are in the card.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from .bundle import BundleError, bundle_file, safetensors_header, sha256_file

FILE = "reference.safetensors"
KIND = "mahalanobis-ledoit-wolf"
#: Default quantile of the validation distances used as the limit.
QUANTILE = 0.99


def pool(activations: np.ndarray) -> np.ndarray:
    """(N, C, h, w) activations -> (N, C) features (the spatial mean, float64)."""
    a = np.asarray(activations, dtype=np.float64)
    return a.reshape(a.shape[0], a.shape[1], -1).mean(axis=2)


def ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf shrunk covariance of rows ``x`` (N, C) and the shrinkage used (scikit-learn's).

    Ledoit & Wolf (2004): the convex combination of the sample covariance and a scaled
    identity that minimises the expected Frobenius loss. scikit-learn arrives with grad-cam.
    """
    from sklearn.covariance import ledoit_wolf as lw

    cov, shrink = lw(np.asarray(x, dtype=np.float64))
    return cov, float(shrink)


@dataclass
class Reference:
    """Mean, precision (inverse shrunk covariance) and limit of the training features."""

    mean: np.ndarray
    precision: np.ndarray
    limit: float
    quantile: float = QUANTILE
    shrinkage: float = 0.0

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``features`` (N, C) from the training mean."""
        d = np.asarray(features, dtype=np.float64) - self.mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self.precision, d), 0.0))


def fit_reference(train: np.ndarray, val: np.ndarray, quantile: float = QUANTILE) -> Reference:
    """Fit on training features, set the limit at ``quantile`` of the validation distances."""
    if len(train) < 10 or len(val) < 10:
        raise ValueError(f"a reference needs at least 10 training and 10 validation images (got {len(train)} and {len(val)})")
    cov, shrink = ledoit_wolf(np.asarray(train, dtype=np.float64))
    ref = Reference(np.asarray(train, dtype=np.float64).mean(axis=0), np.linalg.inv(cov), 0.0, quantile, shrink)
    ref.limit = float(np.quantile(ref.distance(val), quantile))
    return ref


def save_reference(folder: str | os.PathLike[str], ref: Reference, layer: str, n_train: int, n_val: int, description: str) -> dict[str, Any]:
    """Write ``reference.safetensors`` into a bundle folder; the card record to store."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    with atomic_path(folder / FILE) as tmp:
        save_file({"mean": ref.mean.astype(np.float32), "precision": ref.precision.astype(np.float32)}, str(tmp))
    return {
        "file": FILE,
        "sha256": sha256_file(folder / FILE),
        "kind": KIND,
        "layer": layer,
        "features": int(ref.mean.shape[0]),
        "shrinkage": round(ref.shrinkage, 6),
        "limit": ref.limit,
        "quantile": ref.quantile,
        "n_train": int(n_train),
        "n_val": int(n_val),
        "data": description,
    }


#: Largest feature width a reference may have (the widest timm feature maps are a few thousand channels).
MAX_FEATURES = 8192


def load_reference(folder: str | os.PathLike[str], record: dict[str, Any]) -> Reference:
    """Read a bundle's reference (sha256 and header checked before any tensor; numpy only, no torch).

    Refused with a :class:`BundleError`: a file outside the bundle (or a link leading out
    of it), a changed file, a header declaring more than ``MAX_FEATURES`` features, a
    width that is not the card's, and a reference that would switch the check off
    (a non-positive or absurd limit, a precision matrix that is zero, not symmetric or
    not finite).
    """
    from safetensors.numpy import load_file

    if not isinstance(record, dict) or not isinstance(record.get("file", FILE), str):
        raise BundleError(f"{folder}: malformed reference record in the card")
    path = bundle_file(folder, record.get("file", FILE))
    if not path.is_file():
        raise BundleError(f"{path}: the reference file the card records is missing")
    if sha256_file(path) != record.get("sha256"):
        raise BundleError(f"{path}: sha256 does not match the card; the file was changed")
    header = safetensors_header(path)
    shapes = {k: [int(d) for d in v.get("shape", [])] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    c = (shapes.get("mean") or [0])[0]
    if shapes.get("mean") != [c] or shapes.get("precision") != [c, c] or not 1 <= c <= MAX_FEATURES:
        raise BundleError(f"{path}: malformed reference (tensors {shapes}; at most {MAX_FEATURES} features)")
    if record.get("features") is not None and record.get("features") != c:
        raise BundleError(f"{path}: the reference has {c} features but the card says {record.get('features')}")
    try:
        t = load_file(str(path))
        mean, precision = t["mean"].astype(np.float64), t["precision"].astype(np.float64)
    except Exception as exc:
        raise BundleError(f"{path}: not a readable reference ({type(exc).__name__})") from None
    limit = record.get("limit")
    if not isinstance(limit, (int, float)) or isinstance(limit, bool) or not np.isfinite(limit) or not 0 < limit <= 1e6:
        raise BundleError(f"{path}: the reference's limit {limit!r} is not a positive finite distance (at most 1e6)")
    finite = np.isfinite(mean).all() and np.isfinite(precision).all()
    diagonal = np.diag(precision) if finite else np.zeros(c)
    if not finite or not (diagonal > 0).all() or not np.allclose(precision, precision.T, rtol=1e-3, atol=1e-6 * float(np.abs(diagonal).max())):
        raise BundleError(f"{path}: the reference's precision matrix is not a usable inverse covariance (zero, asymmetric or not finite)")
    return Reference(mean, precision, float(limit), float(record.get("quantile", QUANTILE)), float(record.get("shrinkage", 0.0)))
