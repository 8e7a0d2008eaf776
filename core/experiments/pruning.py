"""The median rule: stop a trial whose metric at epoch k is worse than the median of the
finished trials' values at epoch k.

Only trials that finished (not pruned, not failed) count, and the rule waits until at least
``MIN_FINISHED`` of them logged the metric at that epoch. "Worse" is below the median for
``mode="max"`` and above it for ``mode="min"``; a value equal to the median goes on.
"""

from __future__ import annotations

import statistics

from sqlalchemy import select
from sqlalchemy.engine import Engine

from modelboard.store import tables

__all__ = ["PRUNERS", "MIN_FINISHED", "median_at_epoch", "is_worse"]

PRUNERS = (None, "median")
MIN_FINISHED = 2


def median_at_epoch(engine: Engine, search_id: str, metric: str, epoch: int) -> float | None:
    """The median of the metric's last value at ``epoch`` over the search's finished trials;
    ``None`` while fewer than ``MIN_FINISHED`` of them have one."""
    st, m = tables.search_trials.c, tables.metrics.c
    finished = select(st.run_id).where(
        st.search_id == search_id, st.status == "finished", st.run_id.is_not(None)
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.run_id, m.value)
            .where(m.run_id.in_(finished), m.key == metric, m.epoch == epoch)
            .order_by(m.id)
        ).all()
    last: dict[str, float] = {}
    for run_id, value in rows:
        if value is not None and value == value:  # NaN is no evidence either way
            last[run_id] = float(value)
    if len(last) < MIN_FINISHED:
        return None
    return float(statistics.median(last.values()))


def is_worse(value: float, median: float, mode: str) -> bool:
    """True when ``value`` is worse than ``median`` for ``mode`` (``"max"`` or ``"min"``)."""
    return value < median if mode == "max" else value > median
