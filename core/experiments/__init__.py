"""Hyperparameter search: ``mb.search`` runs trials as child runs of one search run.

Trials are drawn with scikit-learn (``space``), claimed one by one through the store (table
``search_trials``) by one or more workers, optionally stopped early by the median rule, and
summarised on the search run (best trial, its value, a parallel-coordinates plot). See
``docs/search.md``.
"""

from __future__ import annotations

from modelboard.experiments.search_run import SearchResult, search
from modelboard.experiments.trial_run import TrialPruned, TrialRun
from modelboard.experiments.worker import FileFunction

__all__ = ["search", "SearchResult", "TrialPruned", "TrialRun", "FileFunction"]
