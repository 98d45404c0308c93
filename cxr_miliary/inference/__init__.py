"""Inference without Lightning: ``Predictor``, ``Prediction`` and the runtimes they use."""

from .prediction import Prediction
from .predictor import Predictor

__all__ = ["Prediction", "Predictor"]
