"""The run record: identity, lifecycle, parameters, tags and environment of one tracked run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from modelboard.records.base import Record

__all__ = ["RunRecord", "RUN_STATUSES", "ArtifactRecord"]

RUN_STATUSES = ("running", "finished", "failed", "crashed", "killed", "pruned")
"""``killed``: ended by SIGTERM (flushed first); ``crashed``: a running run whose heartbeat
went stale (the process died without ending it); ``pruned``: a search trial stopped early by
its pruner (``mb.search(prune="median")``)."""


@dataclass(eq=False)
class RunRecord(Record):
    """One run. Times are Unix seconds (UTC). ``status`` is one of ``RUN_STATUSES``.

    ``distributed``: the process group the run was trained in (``backend``, ``world_size``,
    ``ranks``), empty outside one. ``writers``: every process that wrote to the run (the owner,
    the other ranks, processes that joined it), see ``modelboard.tracking.writers``.
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    id: str
    name: str
    project: str = "default"
    framework: str | None = None
    framework_version: str | None = None
    status: str = "running"
    created: float = 0.0
    ended: float | None = None
    heartbeat: float | None = None
    parent_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    distributed: dict[str, Any] = field(default_factory=dict)
    writers: list[dict[str, Any]] = field(default_factory=list)


@dataclass(eq=False)
class ArtifactRecord(Record):
    """A file stored under the run's artifact folder; ``path`` is relative to that folder."""

    SCHEMA_VERSION: ClassVar[int] = 1

    path: str
    kind: str = "file"
    size: int = 0
    created: float = 0.0
