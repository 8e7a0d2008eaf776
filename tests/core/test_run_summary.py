"""Run summaries (``modelboard.store.run_summary``): an ended run reads through its one-row
summary, every later change of its values removes it (the new value shows), and runs without
one read from ``run_values``: the whole-store frame always equals the row-by-row build. SQLite
and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import select, text, update

import modelboard as mb
from modelboard.leaderboard import leaderboard
from modelboard.records import EvaluationRecord
from modelboard.store import query_runs, tables
from modelboard.store.migrations import read_schema_version
from modelboard.store.query import iter_run_chunks
from modelboard.store.run_values import rebuild_run_values


@pytest.fixture
def tracker(any_store: str, plugin_manager) -> Iterator[mb.Tracker]:  # type: ignore[no-untyped-def]
    with mb.Tracker(any_store, plugin_manager=plugin_manager) as made:
        yield made


def _finished_run(tracker: mb.Tracker, name: str, **params: object) -> str:
    run = tracker.start_run(name, hparams=params, tags={"group": "a"})
    for step in range(3):
        run.log(step=step, loss=1.0 / (step + 1), acc=0.25 * step)
    run.finish()
    return run.id


def _has_summary(tracker: mb.Tracker, run_id: str) -> bool:
    rs = tables.run_summaries
    query = select(rs.c.run_id).where(rs.c.run_id == run_id)
    return tracker.store._read(lambda conn: conn.execute(query).first()) is not None


def _row_by_row(tracker: mb.Tracker) -> pd.DataFrame:
    """The frame as ``query_runs`` builds it from ``run_values`` rows (no summaries)."""
    page = query_runs(tracker.store)
    frame = pd.DataFrame(page.rows, columns=page.labels)
    for label in [c for c in frame.columns if frame[c].dtype.kind == "O"]:
        frame[label] = frame[label].where(frame[label].notna(), float("nan"))
    return frame


def _board(tracker: mb.Tracker) -> pd.DataFrame:
    """The whole-store frame (summaries where they exist), checked against the row build."""
    frame = leaderboard(tracker.store)
    pd.testing.assert_frame_equal(frame, _row_by_row(tracker))
    return frame


def _cell(frame: pd.DataFrame, run_id: str, column: str) -> object:
    return frame.loc[frame["id"] == run_id, column].iloc[0]


def test_finished_run_reads_through_its_summary(tracker: mb.Tracker) -> None:
    odd = {
        "lr": 0.1 + 0.2,  # not a short decimal
        "tiny": 1e-300,
        "big": 2**53 + 1,
        "flag": True,
        "label": 'a "quoted", comma\nnew line é',
        "empty": "",
        "nothing": None,  # a row with neither a number nor a text
    }
    run_id = _finished_run(tracker, "done", **odd)
    assert _has_summary(tracker, run_id)
    ids = [run_id]
    (chunk,) = iter_run_chunks(tracker.store, ids, summaries=True)
    assert [row[0] for row in chunk.summaries] == ids and chunk.values == []
    (rows_only,) = iter_run_chunks(tracker.store, ids)
    assert rows_only.summaries == [] and len(rows_only.values) > 10
    frame = _board(tracker)
    assert _cell(frame, run_id, "params.lr") == 0.1 + 0.2
    assert _cell(frame, run_id, "params.tiny") == 1e-300
    assert _cell(frame, run_id, "params.label") == odd["label"]
    assert _cell(frame, run_id, "loss") == pytest.approx(1 / 3)


def test_running_run_and_run_without_summary_read_from_values(tracker: mb.Tracker) -> None:
    done = _finished_run(tracker, "done", lr=0.1)
    running = tracker.start_run("running", hparams={"lr": 0.5})
    running.log(step=0, loss=7.0)
    running.flush()
    assert not _has_summary(tracker, running.id)
    rs = tables.run_summaries
    tracker.store._write(lambda conn: conn.execute(rs.delete().where(rs.c.run_id == done)))
    frame = _board(tracker)
    assert _cell(frame, running.id, "loss") == 7.0 and _cell(frame, done, "loss") == 1 / 3
    running.finish()
    assert _has_summary(tracker, running.id)
    assert _cell(_board(tracker), running.id, "params.lr") == 0.5


def test_evaluation_after_finish_replaces_the_summary(tracker: mb.Tracker) -> None:
    run_id = _finished_run(tracker, "done")
    record = EvaluationRecord(split="test", task="classification", metrics={"accuracy": 0.875})
    tracker.store.put_evaluation(run_id, record)
    assert _has_summary(tracker, run_id)  # written again, with the new value
    assert _cell(_board(tracker), run_id, "test_accuracy") == 0.875


def test_tag_edit_after_finish_replaces_the_summary(tracker: mb.Tracker) -> None:
    run_id = _finished_run(tracker, "done")

    def retag(stored):  # type: ignore[no-untyped-def]
        stored.tags["group"] = "b"
        return stored

    tracker.store.change_run(run_id, retag)
    assert _has_summary(tracker, run_id)
    assert _cell(_board(tracker), run_id, "tags.group") == "b"


def test_points_after_finish_remove_the_summary(tracker: mb.Tracker) -> None:
    run_id = _finished_run(tracker, "done")
    tracker.store.append_points(run_id, [("loss", 10, None, 0.001, time.time())])
    assert not _has_summary(tracker, run_id)
    assert _cell(_board(tracker), run_id, "loss") == 0.001


def test_reopened_run_gets_a_new_summary(tracker: mb.Tracker) -> None:
    run_id = _finished_run(tracker, "done")
    again = tracker.resume(run_id, reopen=True)
    again.log(step=5, loss=0.01)
    again.flush()
    assert not _has_summary(tracker, run_id)
    assert _cell(_board(tracker), run_id, "loss") == 0.01
    again.finish()
    assert _has_summary(tracker, run_id)
    assert _cell(_board(tracker), run_id, "loss") == 0.01


def test_any_write_of_run_values_removes_the_summary(tracker: mb.Tracker) -> None:
    first = _finished_run(tracker, "first", lr=0.1)
    second = _finished_run(tracker, "second", lr=0.2)
    third = _finished_run(tracker, "third", lr=0.3)
    rv = tables.run_values
    changed = update(rv).where(rv.c.run_id == first, rv.c.kind == "param").values(value_num=0.75)
    tracker.store._write(lambda conn: conn.execute(changed))
    tracker.store._write(lambda conn: rebuild_run_values(conn, [second]))
    gone = rv.delete().where(rv.c.run_id == third, rv.c.kind == "param")
    tracker.store._write(lambda conn: conn.execute(gone))
    assert [_has_summary(tracker, r) for r in (first, second, third)] == [False] * 3
    frame = _board(tracker)
    assert _cell(frame, first, "params.lr") == 0.75
    assert _cell(frame, second, "params.lr") == 0.2
    assert pd.isna(_cell(frame, third, "params.lr"))


def test_deleting_a_run_deletes_its_summary(tracker: mb.Tracker) -> None:
    run_id = _finished_run(tracker, "done")
    tracker.store.delete_run(run_id)
    assert not _has_summary(tracker, run_id)


def test_migration_from_version_3_writes_every_summary(any_store: str, plugin_manager) -> None:  # type: ignore[no-untyped-def]
    with mb.Tracker(any_store, plugin_manager=plugin_manager) as tracker:
        ids = [_finished_run(tracker, f"run{i}", lr=i / 10) for i in range(3)]
        expected = _board(tracker)
        engine = tracker.store.engine
        with engine.begin() as conn:  # the store as version 3 wrote it
            if conn.dialect.name == "postgresql":
                conn.execute(text("DROP TRIGGER run_values_drop_summary ON run_values"))
            else:
                for what in ("insert", "update", "delete"):
                    conn.execute(text(f"DROP TRIGGER run_values_drop_summary_{what}"))
            conn.execute(text("DROP TABLE run_summaries"))
            conn.execute(text("DROP TABLE summary_layouts"))
            conn.execute(tables.meta.update().values(value="3"))
    with mb.Tracker(any_store, plugin_manager=plugin_manager) as tracker:
        with tracker.store.engine.connect() as conn:
            assert read_schema_version(conn) == 4
        assert all(_has_summary(tracker, r) for r in ids)
        pd.testing.assert_frame_equal(_board(tracker), expected)
        tracker.store.append_points(ids[0], [("loss", 9, None, 0.5, time.time())])
        assert not _has_summary(tracker, ids[0])  # the triggers came with the migration


def test_a_migrated_store_writes_its_own_summaries(tmp_path, plugin_manager) -> None:  # type: ignore[no-untyped-def]
    from modelboard.store.migrate import migrate

    source, target = str(tmp_path / "src"), str(tmp_path / "dst")
    with mb.Tracker(source, plugin_manager=plugin_manager) as tracker:
        ids = [_finished_run(tracker, f"run{i}", lr=i / 10) for i in range(3)]
        expected = _board(tracker)
    report = migrate(source, target)
    assert report.ok
    with mb.Tracker(target, plugin_manager=plugin_manager) as tracker:
        assert all(_has_summary(tracker, r) for r in ids)
        pd.testing.assert_frame_equal(_board(tracker), expected)
