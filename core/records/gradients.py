"""The gradient record: per-parameter gradient statistics at one training step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from modelboard.records.base import Record

__all__ = ["ParameterGradientStats", "GradientRecord"]


@dataclass(eq=False)
class ParameterGradientStats(Record):
    """Statistics of one parameter tensor's gradient. ``update_ratio`` is |update| / |weight|."""

    SCHEMA_VERSION: ClassVar[int] = 1

    name: str
    shape: list[int] = field(default_factory=list)
    l2_norm: float = 0.0
    mean: float = 0.0
    std: float = 0.0
    max_abs: float = 0.0
    zero_fraction: float = 0.0
    nonfinite_count: int = 0
    weight_norm: float | None = None
    update_ratio: float | None = None


@dataclass(eq=False)
class GradientRecord(Record):
    """Gradients of every parameter at ``step``.

    ``source`` is ``training`` (captured inside the training step) or ``on_demand``
    (``run.gradients(x, y)``). ``scaled`` is true when the values are loss-scaled (AMP).
    ``flags`` holds ``vanishing``, ``exploding`` and ``nonfinite``, computed from the gradients
    that backward produced. ``optimizer`` is the key of the optimizer whose step this was (see
    ``OptimizerRecord.key``), ``None`` when no optimizer is known. When the gradients the
    optimizer applied differ from those backward produced (clipping), ``clipped`` is true and
    ``applied_global_norm`` is the applied norm; ``None`` where it was not compared.
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    step: int
    epoch: int | None = None
    wall_time: float = 0.0
    source: str = "training"
    scaled: bool = False
    global_norm: float = 0.0
    optimizer: str | None = None
    applied_global_norm: float | None = None
    clipped: bool | None = None
    parameters: list[ParameterGradientStats] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)
