"""Comparing runs side by side, even across frameworks.

>>> comparison = tracker.compare(run_a, run_b)       # doctest: +SKIP
>>> comparison.summary["network"]     # what a person compares, every row  # doctest: +SKIP
>>> comparison.sections["hyperparameters"]           # differences first  # doctest: +SKIP
>>> comparison.layers             # Keras and torch layers on shared rows  # doctest: +SKIP
>>> comparison.plot_curves("curves.png")             # overlaid metric curves  # doctest: +SKIP

Layers line up through the canonical vocabulary (``modelboard.canonical``): a Needleman-Wunsch
alignment of ``signature_layers``, so a Keras ``Conv2D(32, 3)`` and a torch ``Conv2d(1, 32, 3)``
share a row, and a layer only one network has is a ``gap`` row.
"""

from modelboard.compare._align import AlignedLayer, align_networks, align_pair, leaf_layers
from modelboard.compare._compare import (
    SECTIONS,
    SUMMARY_SECTIONS,
    Comparison,
    compare_runs,
    flatten,
    run_label,
)

__all__ = [
    "Comparison",
    "compare_runs",
    "flatten",
    "SECTIONS",
    "SUMMARY_SECTIONS",
    "run_label",
    "AlignedLayer",
    "align_pair",
    "align_networks",
    "leaf_layers",
]
