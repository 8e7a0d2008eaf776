"""Store schema versions: new stores, older stores migrated, newer stores refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

import modelboard as mb
from modelboard.records import EvaluationRecord, RunRecord
from modelboard.store import STORE_SCHEMA_VERSION, resolve_location, tables
from modelboard.store.engine import make_engine
from modelboard.store.migrations import create_schema_at_version, read_schema_version


def test_a_new_store_is_at_the_current_version(tracker: mb.Tracker) -> None:
    with tracker.store.engine.connect() as conn:
        assert read_schema_version(conn) == STORE_SCHEMA_VERSION


def test_a_version_1_store_is_migrated_with_its_runs_kept(any_store: str, plugin_manager) -> None:
    location = resolve_location(any_store)
    engine = make_engine(location.url)
    create_schema_at_version(engine, 1)
    record = RunRecord(
        id="0" * 31 + "1",
        name="old",
        status="finished",
        created=time.time(),
        params={"lr": 0.1},
        tags={"era": "v1"},
    )
    with engine.begin() as conn:
        assert not conn.dialect.has_table(conn, "run_values")
        conn.execute(
            tables.runs.insert().values(
                id=record.id,
                project="default",
                name="old",
                status="finished",
                framework=None,
                created=record.created,
                ended=None,
                heartbeat=None,
                parent_id=None,
                record=record.to_json(),
            )
        )
        evaluation = EvaluationRecord(split="val", task="multiclass", metrics={"accuracy": 0.75})
        conn.execute(
            tables.records.insert().values(
                run_id=record.id, kind="evaluation:val", payload=evaluation.to_json(), updated=1.0
            )
        )
        conn.execute(
            tables.metrics.insert(),
            [
                {
                    "run_id": record.id,
                    "key": "loss",
                    "step": i,
                    "epoch": i,
                    "value": v,
                    "wall_time": 1.0 + i,
                }
                for i, v in enumerate([0.9, 0.4, 0.6])
            ],
        )
    engine.dispose()

    with mb.Tracker(any_store, plugin_manager=plugin_manager) as tracker:
        assert tracker.store.schema_version == STORE_SCHEMA_VERSION
        stored = tracker.get(record.id)
        assert stored.run == record
        assert stored.training.metrics["loss"].values == [0.9, 0.4, 0.6]
        rv = tables.run_values.c
        with tracker.store.engine.connect() as conn:
            rows = {
                (k, n): (num, txt)
                for k, n, num, txt in conn.execute(
                    select(rv.kind, rv.name, rv.value_num, rv.value_text).where(
                        rv.run_id == record.id
                    )
                )
            }
            assert read_schema_version(conn) == STORE_SCHEMA_VERSION
    assert rows[("metric_last", "loss")] == (0.6, None)
    assert rows[("metric_min", "loss")] == (0.4, None)
    assert rows[("metric_max", "loss")] == (0.9, None)
    assert rows[("param", "lr")] == (0.1, None)
    assert rows[("tag", "era")] == (None, "v1")
    assert rows[("eval", "val_accuracy")] == (0.75, None)


def test_a_store_from_a_newer_modelboard_is_refused(tmp_path: Path, plugin_manager) -> None:
    store = tmp_path / "store"
    mb.Tracker(store, plugin_manager=plugin_manager).close()
    engine = make_engine(resolve_location(store).url)
    with engine.begin() as conn:
        conn.execute(
            tables.meta.update()
            .where(tables.meta.c.key == "schema_version")
            .values(value=str(STORE_SCHEMA_VERSION + 5))
        )
    engine.dispose()
    with pytest.raises(mb.StoreVersionError, match="newer modelboard") as caught:
        mb.Tracker(store, plugin_manager=plugin_manager)
    assert "pip install -U modelboard" in str(caught.value)


def test_sqlite_stores_use_wal_and_a_busy_timeout(tracker: mb.Tracker) -> None:
    with tracker.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
