"""A logged metric named like a standard column does not break the frame."""

from __future__ import annotations

import modelboard as mb
from modelboard.records import NetworkRecord, OptimizerRecord


def test_a_metric_named_like_a_standard_column_keeps_both(tracker: mb.Tracker) -> None:
    run = tracker.start_run("lr-logger")
    run.set_network(
        NetworkRecord(
            framework="keras",
            architecture="net",
            optimizer=OptimizerRecord(name="Adam", learning_rate=0.001),
        )
    )
    run.log(epoch=0, loss=1.0, learning_rate=0.0005)
    run.finish()
    frame = tracker.leaderboard()
    assert frame.columns.is_unique
    assert frame.loc[0, "learning_rate"] == 0.001
    assert frame.loc[0, "metrics.learning_rate"] == 0.0005
    chosen = tracker.leaderboard(columns=["name", "loss", "loss"])
    assert list(chosen.columns) == ["name", "loss"]
