"""Bad values are refused at the call, refused rows never block a run, finished runs refuse
writes, and user values never collide with the encoding's tags (issue 12, items 1, 7, 11)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

import modelboard as mb
from modelboard.errors import InvalidValueError, RunFinishedError
from modelboard.serialization import dumps, loads
from modelboard.store import tables

BAD_CALLS = [
    ({"step": 1.7}, "step must be an integer"),
    ({"step": 2**63}, "signed (64|32)-bit"),
    ({"step": -(2**63) - 1}, "signed (64|32)-bit"),
    ({"epoch": 2**64}, "signed (64|32)-bit"),
    ({"step": True}, "bool"),
    ({"step": "3"}, "step must be an integer"),
]
BAD_NAMES = [
    ("", "empty"),
    ("x" * 256, "256 characters"),
    ("a\x00b", "NUL"),
    ("a\udc80", "surrogate"),
]


def test_bad_values_are_refused_at_the_call_and_lose_nothing(
    any_store: str, tmp_path: Path
) -> None:
    with mb.Tracker(any_store, artifact_root=tmp_path / "a") as tracker:
        run = tracker.start_run("bad")
        run.log(step=0, loss=1.0)
        for kwargs, message in BAD_CALLS:
            with pytest.raises(InvalidValueError, match=message):
                run.log(loss=9.0, **kwargs)
        for name, message in BAD_NAMES:
            with pytest.raises(InvalidValueError, match=message):
                run.log(step=1, **{name: 9.0})
            with pytest.raises(InvalidValueError, match=message):
                run.set_tags(**{name: "v"})
            with pytest.raises(InvalidValueError, match=message):
                run.log_params(**{name: 1})
        with pytest.raises(InvalidValueError, match="NUL"):
            run.set_tags(note="a\x00b")
        with pytest.raises(InvalidValueError, match="surrogate"):
            run.log_params(path="a\udc80")
        run.log(step=np.int64(1), epoch=np.int32(0), loss=0.5)  # numpy integers are integers
        largest = 2**31 - 1 if "postgresql" in any_store else 2**63 - 1  # metrics.step's width
        with pytest.raises(InvalidValueError, match="signed"):
            run.log(step=largest + 1, loss=9.0)
        run.log(step=largest, loss=0.25)
        run.set_tags(kept="yes")
        run.finish()
        stored = tracker.get(run.id)
        assert stored.training.metrics["loss"].steps == [0, 1, largest]
        assert stored.training.metrics["loss"].values == [1.0, 0.5, 0.25]
        assert list(stored.training.metrics) == ["loss"]
        assert stored.run.tags == {"kept": "yes"}  # nothing refused stayed queued
        assert stored.run.params == {}
        assert tracker.store.get_dropped(run.id) == {}


def test_a_row_the_store_refuses_is_isolated_recorded_and_later_rows_stored(
    any_store: str, tmp_path: Path
) -> None:
    """Bisection of a refused batch: a real refusal by the database (a check constraint on
    this store), never a mock; every point before and after the bad one is read back."""
    with mb.Tracker(any_store, artifact_root=tmp_path / "a") as tracker:
        with tracker.store.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "ALTER TABLE metrics ADD CONSTRAINT no_666 "
                    "CHECK (value IS NULL OR value <> -666)"
                )
            else:
                conn.exec_driver_sql(
                    "CREATE TRIGGER no_666 BEFORE INSERT ON metrics WHEN NEW.value = -666 "
                    "BEGIN SELECT RAISE(ABORT, 'no 666 here'); END"
                )
        run = tracker.start_run("bisect")
        values = [float(i) for i in range(2000)]
        values[1234] = -666.0
        for step, value in enumerate(values):
            run.log(step=step, loss=value)
        run.finish()
        stored = tracker.get(run.id)
        assert stored.status == "finished"
        expected = [v for v in values if v != -666.0]
        assert stored.training.metrics["loss"].values == expected
        dropped = tracker.store.get_dropped(run.id)
        assert dropped["counts"] == {"points": 1}
        assert "1234" in dropped["reasons"][0]


def test_finished_runs_refuse_every_write(tracker: mb.Tracker, tmp_path: Path) -> None:
    run = tracker.start_run("done")
    run.finish()
    artifact = tmp_path / "f.txt"
    artifact.write_text("x")
    for call in (
        lambda: run.log(loss=1.0),
        lambda: run.log_params(lr=0.1),
        lambda: run.set_tags(a="b"),
        lambda: run.evaluate(y_true=[0, 1], y_pred=[0, 1]),
        lambda: run.log_artifact(artifact),
    ):
        with pytest.raises(RunFinishedError, match="already finished"):
            call()
    stored = tracker.get(run.id)
    assert stored.run.params == {} and stored.run.tags == {}
    assert stored.artifacts == [] and stored.evaluations == {}


TAG_LOOKALIKES = [
    {"$float": "nan"},
    {"$float": "abc"},
    {"$dict": [[1, 2]]},
    {"$repr": "x", "$type": "y"},
    {"$dict": "not pairs"},
    {"a": {"$float": "inf"}},
]


def test_user_values_that_look_like_tags_read_back_as_given(any_store: str, tmp_path: Path) -> None:
    with mb.Tracker(any_store, artifact_root=tmp_path / "a") as tracker:
        run = tracker.start_run("tags", hparams={f"p{i}": v for i, v in enumerate(TAG_LOOKALIKES)})
        run.log_params(real_nan=float("nan"), int_keys={1: "a"})
        run.finish()
        params = tracker.get(run.id).run.params
        for i, value in enumerate(TAG_LOOKALIKES):
            assert params[f"p{i}"] == value
        assert math.isnan(params["real_nan"]) and params["int_keys"] == {1: "a"}
        assert [r.id for r in tracker.runs()] == [run.id]


def test_an_undecodable_record_is_reported_for_its_run_alone(
    any_store: str, tmp_path: Path
) -> None:
    with mb.Tracker(any_store, artifact_root=tmp_path / "a") as tracker:
        good = tracker.start_run("good")
        good.finish()
        bad = tracker.start_run("bad")
        bad.finish()
        with tracker.store.engine.begin() as conn:  # a damaged or hostile store
            conn.execute(
                update(tables.runs).where(tables.runs.c.id == bad.id).values(record="{not json")
            )
            conn.execute(
                update(tables.runs)
                .where(tables.runs.c.id == good.id)
                .values(
                    record=good.record.to_json().replace(
                        '"params":{}', '"params":{"x":{"$float":"abc"}}'
                    )
                )
            )
        runs = {r.id: r for r in tracker.runs()}
        assert runs[good.id].params == {"x": {"$float": "abc"}}
        assert runs[bad.id].name == "bad" and runs[bad.id].status == "finished"
        assert runs[bad.id].params == {} and "cannot be read" in runs[bad.id].notes
        assert tracker.get(bad.id).run.flags == {"record_unreadable": True}
        tracker.delete(bad.id)
        assert [r.id for r in tracker.runs()] == [good.id]


names = (
    st.text(min_size=1, max_size=40)
    .filter(lambda s: "\x00" not in s)
    .filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
)
tag_keys = st.sampled_from(["$float", "$dict", "$repr", "$type", "$x", "a"])
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.sampled_from([float("inf"), float("-inf")])
    | names
    | st.sampled_from(["nan", "inf", "-inf", "$float", "$dict"])
)
nested = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(names | tag_keys, inner, max_size=4)
        | st.dictionaries(
            tag_keys, inner | st.lists(st.lists(inner, max_size=2), max_size=2), max_size=2
        )
    ),
    max_leaves=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(names, nested, max_size=5),
    tags=st.dictionaries(names, names, max_size=4),
    metric=names,
)
def test_property_values_round_trip_through_the_store(
    any_store: str, tmp_path: Path, params: dict, tags: dict, metric: str
) -> None:
    assert loads(dumps(params)) == params or dumps(loads(dumps(params))) == dumps(params)
    with mb.Tracker(any_store, artifact_root=tmp_path / "a") as tracker:
        run = tracker.start_run("prop", hparams=params, tags=tags)
        run.log(step=3, **{metric: 0.5})
        run.finish()
        stored = tracker.get(run.id)
        assert dumps(stored.run.params) == dumps(params)
        assert stored.run.tags == tags
        assert stored.training.metrics[metric].values == [0.5]
        tracker.delete(run.id)
