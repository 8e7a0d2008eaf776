"""``modelboard demo``: the seed paper's experiment on bundled digits, in Keras and PyTorch.

Trains the paper's basic_cnn and a small VGG-style network over a few of its
(batch_size, epochs, optimizer) settings in each installed framework, tracks every run, then
prints the leaderboard, the cross-framework compare of the two basic_cnn runs, and where the
store, the CSV and the HTML report are.

The demo knows no framework: each adapter offers its models and trains its runs through the
demo hooks (``modelboard_demo_models``, ``modelboard_demo_session``, ``modelboard_demo_train``
in ``modelboard.plugins.hookspecs``), so any adapter can join the grid.

>>> from modelboard.demo import main
>>> main(["--quick", "--store", "/tmp/demo-store"])  # doctest: +SKIP
"""

from __future__ import annotations

from modelboard.demo.command import build_parser, main
from modelboard.demo.data import AUGMENTATION_SETTINGS, DigitsData
from modelboard.demo.grid import Setting
from modelboard.demo.jobs import DemoContext, DemoJob, DemoModels, RunPlan, StepProgress

__all__ = [
    "main",
    "build_parser",
    "AUGMENTATION_SETTINGS",
    "DigitsData",
    "Setting",
    "DemoContext",
    "DemoJob",
    "DemoModels",
    "RunPlan",
    "StepProgress",
]
