"""Inference without Lightning: ``Predictor`` and ``Prediction``."""

from .predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]
