"""The training record: every logged metric as a series of (step, epoch, value, wall time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from modelboard.records.base import Record

__all__ = ["MetricSeries", "TrainingRecord"]


@dataclass(eq=False)
class MetricSeries(Record):
    """One metric's points in logging order; the four lists have equal length."""

    SCHEMA_VERSION: ClassVar[int] = 1

    steps: list[int] = field(default_factory=list)
    epochs: list[int | None] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    wall_times: list[float] = field(default_factory=list)

    @property
    def last(self) -> float | None:
        """The last logged value, or ``None`` for an empty series."""
        return self.values[-1] if self.values else None


@dataclass(eq=False)
class TrainingRecord(Record):
    """All metrics of a run keyed by name (``loss``, ``val_accuracy``, ``lr``...)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    metrics: dict[str, MetricSeries] = field(default_factory=dict)
