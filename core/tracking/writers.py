"""Who wrote what: the ``writers`` entries of a run record, and their safe update.

Every process that writes to a run has one entry in ``RunRecord.writers``::

    {"id": "3f2a9c1b7d4e", "role": "owner" | "rank" | "joined", "host": ..., "pid": ...,
     "rank": 0 | None, "started": ..., "ended": None | ..., "status": "running" | ...,
     "reopened": False, "wrote": {"metrics": [...], "evaluations": [...], "artifacts": [...]}}

``owner`` created the run (rank 0 of a process group); ``rank`` is another rank of that group;
``joined`` is a process that joined later (``MODELBOARD_RUN_ID``, ``tracker.resume``). ``wrote``
names the metrics, evaluation splits and artifact paths that writer stored.

Several processes change one run record, so nobody overwrites it blindly: a write reads the
stored record and changes it inside one transaction (SQLite's ``BEGIN IMMEDIATE`` write lock,
PostgreSQL's ``SELECT ... FOR UPDATE``), keeping the entries of the other writers. The owner
writes the record whole, but the params, tags and flags that other writers set are kept (a name
set by both keeps the owner's value; a flag raised by any writer stays raised).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelboard.errors import RunNotFoundError
from modelboard.records import RunRecord

if TYPE_CHECKING:
    from modelboard.store import SQLStore

__all__ = [
    "WRITER_ROLES",
    "new_writer",
    "merge_writers",
    "merge_ranks",
    "change_stored_run",
    "write_owner_run",
]

WRITER_ROLES = ("owner", "rank", "joined")


def new_writer(role: str, rank: int | None = None, *, reopened: bool = False) -> dict[str, Any]:
    """A fresh entry for this process."""
    if role not in WRITER_ROLES:
        raise ValueError(f"role must be one of {', '.join(WRITER_ROLES)}; got {role!r}")
    return {
        "id": uuid.uuid4().hex[:12],
        "role": role,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "rank": rank,
        "started": time.time(),
        "ended": None,
        "status": "running",
        "reopened": reopened,
        "wrote": {"metrics": [], "evaluations": [], "artifacts": []},
    }


def merge_writers(stored: list[dict[str, Any]], mine: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``stored`` with each entry of ``mine`` put in place of the one with its id (or added)."""
    merged = [dict(entry) for entry in stored]
    index = {entry.get("id"): n for n, entry in enumerate(merged)}
    for entry in mine:
        at = index.get(entry.get("id"))
        if at is None:
            index[entry.get("id")] = len(merged)
            merged.append(dict(entry))
        else:
            merged[at] = dict(entry)
    return merged


def merge_ranks(stored: dict[str, Any], mine: dict[str, Any]) -> dict[str, Any]:
    """``mine`` (a ``RunRecord.distributed``) with the ``ranks`` of ``stored`` it lacks, in
    rank order: every rank adds its own facts when it joins."""
    if not stored and not mine:
        return {}
    by_rank = {r.get("rank"): r for r in stored.get("ranks", [])}
    by_rank.update({r.get("rank"): r for r in mine.get("ranks", [])})
    merged = {**stored, **mine}
    merged["ranks"] = [by_rank[k] for k in sorted(by_rank, key=lambda k: (k is None, k or 0))]
    return merged


def change_stored_run(
    store: SQLStore,
    run_id: str,
    change: Callable[[RunRecord], None],
    fallback: RunRecord | None = None,
) -> RunRecord:
    """Read the stored run record, ``change`` it and write it back, in one transaction; the
    record as written. A stored record that cannot be read is replaced by ``change`` applied
    to ``fallback`` (this writer's copy). Raises ``StoreWriteError`` or ``RunNotFoundError``
    like any write."""

    def apply(stored: RunRecord | None) -> RunRecord:
        if stored is None:
            if fallback is None:
                raise RunNotFoundError(f"the stored record of run {run_id} cannot be read")
            stored = RunRecord.from_json(fallback.to_json())
        change(stored)
        return stored

    return store.change_run(run_id, apply)


def write_owner_run(store: SQLStore, record: RunRecord) -> None:
    """Write the owner's run record whole, keeping the stored entries of the other writers."""

    def merge(stored: RunRecord | None) -> RunRecord:
        owner = RunRecord.from_json(record.to_json())
        if stored is None:  # unreadable: the owner's own record replaces it
            return owner
        flags = {**stored.flags, **owner.flags}
        for key, value in stored.flags.items():
            if value is True:  # a health flag raised by any writer stays raised
                flags[key] = True
        owner.writers = merge_writers(stored.writers, owner.writers)
        owner.params = {**stored.params, **owner.params}
        owner.tags = {**stored.tags, **owner.tags}
        owner.flags = flags
        owner.distributed = merge_ranks(stored.distributed, owner.distributed)
        return owner

    store.change_run(record.id, merge)
