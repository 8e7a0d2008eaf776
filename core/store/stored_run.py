"""``StoredRun``: everything recorded for one run, read back from the store.

Re-exported as ``modelboard.StoredRun`` and ``modelboard.tracking.StoredRun``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelboard.records import (
    ArtifactRecord,
    DataRecord,
    EvaluationRecord,
    GradientRecord,
    NetworkRecord,
    RunRecord,
    TrainingRecord,
)

__all__ = ["StoredRun"]


@dataclass(eq=False)
class StoredRun:
    """A run's records as stored: ``tracker.get(run_id)`` returns one."""

    run: RunRecord
    data: DataRecord | None = None
    network: NetworkRecord | None = None
    training: TrainingRecord = field(default_factory=TrainingRecord)
    gradients: list[GradientRecord] = field(default_factory=list)
    evaluations: dict[str, EvaluationRecord] = field(default_factory=dict)
    artifacts: list[ArtifactRecord] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The run's id."""
        return self.run.id

    @property
    def name(self) -> str:
        """The run's name."""
        return self.run.name

    @property
    def status(self) -> str:
        """The run's effective status."""
        return self.run.status
