"""Trials in the store (table ``search_trials``): added once, claimed by one worker each.

A worker claims a trial with one conditional ``UPDATE`` inside a transaction: the row changes
only while it is still ``open`` (or ``running`` with a stale heartbeat and the attempt count the
worker read), and the worker owns it only if the update changed exactly one row. Two workers
that race for a trial (on SQLite or PostgreSQL, in one machine or several) therefore never
both get it. A claimed trial's heartbeat moves forward while it runs; once it is older than
the stale timeout (``stale_after`` of ``mb.search``, default 60 s) another worker may take the
trial again.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from modelboard.store import tables

__all__ = [
    "TRIAL_STATES",
    "DONE_STATES",
    "DEFAULT_STALE_AFTER_S",
    "MAX_ATTEMPTS",
    "Claim",
    "TrialRow",
    "stale_after",
    "add_trials",
    "claim_trial",
    "beat",
    "set_run",
    "complete",
    "trial_rows",
    "pending",
    "give_up_dead",
]

TRIAL_STATES = ("open", "running", "finished", "failed", "pruned")
DONE_STATES = ("finished", "failed", "pruned")
DEFAULT_STALE_AFTER_S = 60.0
MAX_ATTEMPTS = 3
"""A trial whose worker died this many times is recorded as failed instead of taken again."""

T = TypeVar("T")
_t = tables.search_trials
_c = _t.c


def stale_after(value: float | None = None) -> float:
    """Seconds without a heartbeat after which a claimed trial may be taken again."""
    if value is None:
        return DEFAULT_STALE_AFTER_S
    seconds = float(value)
    if not seconds > 0:
        raise ValueError(f"stale_after must be a positive number of seconds; got {value!r}")
    return seconds


@dataclass(frozen=True)
class Claim:
    """A trial this worker owns: its index, parameters and the attempt it is."""

    search_id: str
    index: int
    params: dict[str, Any]
    worker: str
    attempt: int


@dataclass(frozen=True)
class TrialRow:
    """One trial as stored."""

    index: int
    params: dict[str, Any]
    status: str
    run_id: str | None
    worker: str | None
    heartbeat: float | None
    attempts: int
    value: float | None


def _retry(engine: Engine, work: Callable[[Connection], T]) -> T:
    for attempt in range(8):
        try:
            with engine.begin() as conn:
                return work(conn)
        except OperationalError as exc:
            transient = any(w in str(exc).lower() for w in ("locked", "busy", "deadlock"))
            if not transient or attempt == 7:
                raise
            time.sleep(min(0.05 * 2**attempt, 1.0))
    raise AssertionError("unreachable")


def add_trials(engine: Engine, search_id: str, trials: Sequence[dict[str, Any]]) -> None:
    """Add the search's trials as ``open`` (once: a search that has them keeps them)."""

    def work(conn: Connection) -> None:
        have = conn.execute(select(func.count()).where(_c.search_id == search_id)).scalar()
        if have:
            return
        conn.execute(
            _t.insert(),
            [
                {
                    "search_id": search_id,
                    "trial_index": i,
                    "params": json.dumps(p, sort_keys=True),
                    "status": "open",
                    "attempts": 0,
                }
                for i, p in enumerate(trials)
            ],
        )

    with contextlib.suppress(IntegrityError):  # another process added them at that moment
        _retry(engine, work)


def _claimable(now: float, stale: float) -> Any:
    return or_(
        _c.status == "open",
        and_(
            _c.status == "running",
            _c.heartbeat < now - stale,
            _c.attempts < MAX_ATTEMPTS,
        ),
    )


def claim_trial(engine: Engine, search_id: str, worker: str, stale: float) -> Claim | None:
    """Take the first trial nobody runs; ``None`` when there is none to take now."""

    def work(conn: Connection) -> Claim | None | bool:
        now = time.time()
        row = conn.execute(
            select(_c.trial_index, _c.params, _c.attempts)
            .where(_c.search_id == search_id, _claimable(now, stale))
            .order_by(_c.trial_index)
            .limit(1)
        ).first()
        if row is None:
            return None
        index, params, attempts = int(row[0]), row[1], int(row[2])
        result = conn.execute(
            update(_t)
            .where(
                _c.search_id == search_id,
                _c.trial_index == index,
                _c.attempts == attempts,
                _claimable(now, stale),
            )
            .values(
                status="running",
                worker=worker,
                claimed_at=now,
                heartbeat=now,
                attempts=attempts + 1,
                run_id=None,
            )
        )
        if result.rowcount != 1:
            return False  # another worker took it first: look again
        return Claim(search_id, index, json.loads(params), worker, attempts + 1)

    while True:
        claimed = _retry(engine, work)
        if claimed is not False:
            return claimed if isinstance(claimed, Claim) else None


def _mine(claim: Claim) -> Any:
    return and_(
        _c.search_id == claim.search_id,
        _c.trial_index == claim.index,
        _c.worker == claim.worker,
        _c.attempts == claim.attempt,
        _c.status == "running",
    )


def beat(engine: Engine, claim: Claim) -> bool:
    """Move the claim's heartbeat forward; ``False`` once the claim is no longer this one's."""
    result = _retry(
        engine,
        lambda conn: conn.execute(update(_t).where(_mine(claim)).values(heartbeat=time.time())),
    )
    return bool(result.rowcount == 1)


def set_run(engine: Engine, claim: Claim, run_id: str) -> None:
    """Name the run that holds this attempt of the trial."""
    _retry(
        engine,
        lambda conn: conn.execute(
            update(_t).where(_mine(claim)).values(run_id=run_id, heartbeat=time.time())
        ),
    )


def complete(engine: Engine, claim: Claim, status: str, value: float | None) -> bool:
    """Record the trial's end; ``False`` when another worker had taken it meanwhile."""
    if status not in DONE_STATES:
        raise ValueError(f"a trial ends as one of {', '.join(DONE_STATES)}; got {status!r}")
    result = _retry(
        engine,
        lambda conn: conn.execute(
            update(_t).where(_mine(claim)).values(status=status, value=value, heartbeat=time.time())
        ),
    )
    return bool(result.rowcount == 1)


def trial_rows(engine: Engine, search_id: str) -> list[TrialRow]:
    """Every trial of the search, by index."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                _c.trial_index,
                _c.params,
                _c.status,
                _c.run_id,
                _c.worker,
                _c.heartbeat,
                _c.attempts,
                _c.value,
            )
            .where(_c.search_id == search_id)
            .order_by(_c.trial_index)
        ).all()
    return [
        TrialRow(int(i), json.loads(p), s, r, w, h, int(a or 0), v)
        for i, p, s, r, w, h, a, v in rows
    ]


def pending(engine: Engine, search_id: str) -> int:
    """How many trials are not done yet (open, or running, whether alive or not)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    _c.search_id == search_id, _c.status.in_(("open", "running"))
                )
            ).scalar()
            or 0
        )


def give_up_dead(engine: Engine, search_id: str, stale: float) -> list[int]:
    """Record as failed the trials whose workers died ``MAX_ATTEMPTS`` times; their indexes."""

    def work(conn: Connection) -> list[int]:
        cutoff = time.time() - stale
        dead = and_(
            _c.search_id == search_id,
            _c.status == "running",
            _c.heartbeat < cutoff,
            _c.attempts >= MAX_ATTEMPTS,
        )
        indexes = [int(r[0]) for r in conn.execute(select(_c.trial_index).where(dead))]
        if indexes:
            conn.execute(update(_t).where(dead).values(status="failed"))
        return indexes

    return _retry(engine, work)
