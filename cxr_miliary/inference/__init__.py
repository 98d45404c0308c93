"""The per-image core, without Lightning: decode, checks, runtimes, one result (``Prediction``, ``Result``).

Scoring many images is :mod:`cxr_miliary.scoring`'s; the front door that loads a bundle
and scores one image or an archive is :class:`cxr_miliary.Predictor`.
"""

from typing import Any

from .prediction import Prediction

__all__ = ["Prediction", "Predictor"]


def __getattr__(name: str) -> Any:
    # ``cxr_miliary.inference.Predictor``, where the Predictor first lived, keeps working
    if name == "Predictor":
        from ..predictor import Predictor

        return Predictor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
