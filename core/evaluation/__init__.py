"""Evaluation: honest classification and regression metrics as data, with PNG plots.

``run.evaluate(x, y)`` (the tracked model predicts) or ``run.evaluate(y_true=..., y_score=...)``
stores an ``EvaluationRecord``; ``compute_evaluation`` gives one without a run. Metrics come from
scikit-learn; the confusion matrix has the true class on rows.
"""

from modelboard.evaluation.compute import compute_evaluation
from modelboard.evaluation.evaluate import evaluate_run, write_plots
from modelboard.evaluation.task import SCORE_KINDS, TASKS, prepare_inputs

__all__ = [
    "compute_evaluation",
    "evaluate_run",
    "write_plots",
    "prepare_inputs",
    "TASKS",
    "SCORE_KINDS",
]
