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
import threading
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
    "next_run_key",
]

COLLECTIVE_REDUCTIONS = ("mean", "sum", "min", "max")
RANK_REDUCTIONS: tuple[str | None, ...] = (None, *COLLECTIVE_REDUCTIONS, "rank")


@runtime_checkable
class ProcessGroup(Protocol):
    """The process group of this process, as an adapter reports it.

    ``publish`` (rank 0) and ``fetch`` (the other ranks) pass a text by key through the group's
    own key-value store (torch's c10d store: no shared file, works across machines); rank 0
    never waits on the others, so a run started on rank 0 alone (``if rank == 0:``) works too.
    ``all_reduce`` is collective: every rank calls it, in the same order.
    """

    backend: str
    world_size: int
    rank: int

    def publish(self, key: str, value: str) -> None:
        """Make ``value`` readable under ``key`` by every rank (called on rank 0)."""

    def fetch(self, key: str) -> str:
        """The value published under ``key``, waiting until rank 0 published it."""

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


_run_counts: dict[tuple[str, str], int] = {}
_run_counts_lock = threading.Lock()


def next_run_key(call: str, name: str | None) -> str:
    """The key of this process's next run start over its group. The n-th start of a kind
    (``call``: ``track:<framework>`` or ``start_run``) and ``name`` on every rank meets the n-th
    such start of rank 0, so a run rank 0 starts alone under another call or name does not
    shift the pairing of the runs started on every rank."""
    slot = (call, name or "")
    with _run_counts_lock:
        count = _run_counts.get(slot, 0)
        _run_counts[slot] = count + 1
    return f"modelboard/run/{call}/{len(slot[1])}:{slot[1]}/{count}"


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
