"""Evaluation: metrics with bootstrap CIs, subgroups, localisation, plots, HTML report."""

from .metrics import evaluate_scores, subgroups, with_ci
from .run import evaluate

__all__ = ["evaluate", "evaluate_scores", "subgroups", "with_ci"]
