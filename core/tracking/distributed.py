"""Runs over a process group (DDP and the like): what the core asks of a framework's group.

The core never imports a framework: an adapter answers the ``modelboard_distributed_context``
hook with a ``ProcessGroup`` when its framework's process group is initialised in this process
(``torch.distributed.init_process_group``), and ``None`` otherwise. See docs/distributed.md.

Metric reduction over ranks (``run.log(..., rank_reduce=...)``):

- ``None`` (the default): rank 0's values are recorded; on the other ranks ``log`` records
  nothing (no collective call, so ranks may log different things or not at all).
- ``"mean"``, ``"sum"``, ``"min"``, ``"max"``: a collective call. Every rank must call ``log``
  with the same metric names in the same order; rank 0 records the reduced values at its step.
- ``"rank"``: no collective call; every rank records its own values as ``<name>_rank<N>``.

Outside a process group every mode records the values as given.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "ProcessGroup",
    "RANK_REDUCTIONS",
    "COLLECTIVE_REDUCTIONS",
    "process_group",
    "check_rank_reduce",
    "rank_metric_name",
    "reduce_over_ranks",
    "rank_facts",
]

COLLECTIVE_REDUCTIONS = ("mean", "sum", "min", "max")
RANK_REDUCTIONS: tuple[str | None, ...] = (None, *COLLECTIVE_REDUCTIONS, "rank")


@runtime_checkable
class ProcessGroup(Protocol):
    """The process group of this process, as an adapter reports it.

    ``broadcast``, ``all_gather`` and ``all_reduce`` are collective: every rank calls them in
    the same order.
    """

    backend: str
    world_size: int
    rank: int

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (picklable), on every rank."""

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), in rank order, on every rank."""

    def all_reduce(self, values: list[float], op: str) -> list[float]:
        """``values`` reduced element-wise over the ranks with ``op`` (one of
        ``COLLECTIVE_REDUCTIONS``), on every rank."""


def process_group(hook: pluggy.HookRelay) -> ProcessGroup | None:
    """The initialised process group of this process, or ``None`` outside one."""
    group = hook.modelboard_distributed_context()
    return group if isinstance(group, ProcessGroup) else None


def check_rank_reduce(value: Any) -> str | None:
    """``value`` when it is a reduction ``run.log`` takes, else a clear ``ValueError``."""
    if value is None or (isinstance(value, str) and value in RANK_REDUCTIONS):
        return value
    allowed = ", ".join(repr(v) for v in RANK_REDUCTIONS)
    raise ValueError(f"rank_reduce must be one of {allowed}; got {value!r}")


def rank_metric_name(name: str, rank: int) -> str:
    """The name a metric logged with ``rank_reduce="rank"`` is recorded under."""
    return f"{name}_rank{rank}"


def reduce_over_ranks(
    group: ProcessGroup, values: list[tuple[str, float | None]], op: str
) -> list[tuple[str, float]]:
    """The reduced ``(name, value)`` pairs; a value this rank could not give (``None``) takes
    part as NaN, so that the other ranks do not wait forever."""
    numbers = [math.nan if v is None else float(v) for _, v in values]
    reduced = group.all_reduce(numbers, op)
    return [(name, value) for (name, _), value in zip(values, reduced, strict=True)]


def rank_facts() -> dict[str, Any]:
    """What each rank reports about itself for ``RunRecord.distributed["ranks"]``."""
    import os
    import socket

    local = os.environ.get("LOCAL_RANK")
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "local_rank": int(local) if local and local.isdigit() else None,
    }
