"""``modelboard demo``: the seed paper's experiment on bundled digits, in Keras and PyTorch.

Trains the paper's basic_cnn and a small VGG-style network over a few of its
(batch_size, epochs, optimizer) settings in each installed framework, tracks every run, then
prints the leaderboard, the cross-framework compare of the two basic_cnn runs, and where the
store, the CSV and the HTML report are.

>>> from modelboard.demo import main
>>> main(["--quick", "--store", "/tmp/demo-store"])  # doctest: +SKIP
"""

from __future__ import annotations

from modelboard.demo.command import build_parser, main

__all__ = ["main", "build_parser"]
