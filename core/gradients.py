"""Gradient health: thresholds, flags and the record adapters build from per-parameter stats."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from modelboard.records import GradientRecord, ParameterGradientStats

__all__ = [
    "DEFAULT_GRADIENTS_EVERY",
    "VANISHING_NORM",
    "EXPLODING_NORM",
    "gradient_flags",
    "make_gradient_record",
]

DEFAULT_GRADIENTS_EVERY = 50
"""Capture the training gradients every this many optimizer steps (0 turns capture off)."""

VANISHING_NORM = 1e-7
EXPLODING_NORM = 1e3


def gradient_flags(
    parameters: Sequence[ParameterGradientStats], global_norm: float
) -> dict[str, bool]:
    """``nonfinite``: any NaN/Inf; ``exploding``: global norm above ``EXPLODING_NORM``;
    ``vanishing``: the global norm, or half the tensors' norms, below ``VANISHING_NORM``."""
    nonfinite = any(p.nonfinite_count > 0 for p in parameters) or not math.isfinite(global_norm)
    tiny = sum(1 for p in parameters if p.l2_norm < VANISHING_NORM)
    vanishing = bool(parameters) and (global_norm < VANISHING_NORM or tiny * 2 >= len(parameters))
    return {
        "vanishing": bool(vanishing and not nonfinite),
        "exploding": bool(math.isfinite(global_norm) and global_norm > EXPLODING_NORM),
        "nonfinite": bool(nonfinite),
    }


def make_gradient_record(
    parameters: Sequence[ParameterGradientStats],
    *,
    step: int,
    epoch: int | None = None,
    source: str = "training",
    scaled: bool = False,
    wall_time: float | None = None,
) -> GradientRecord:
    """A ``GradientRecord`` with its global norm and health flags filled in."""
    total = 0.0
    for p in parameters:
        total += p.l2_norm * p.l2_norm
    global_norm = math.sqrt(total) if math.isfinite(total) else float("nan")
    return GradientRecord(
        step=step,
        epoch=epoch,
        wall_time=time.time() if wall_time is None else wall_time,
        source=source,
        scaled=scaled,
        global_norm=global_norm,
        parameters=list(parameters),
        flags=gradient_flags(parameters, global_norm),
    )
