"""A search in one process: child runs, a failing trial, median pruning, the parent's record,
the plot, the CLI (``modelboard search FILE.py``, ``modelboard ls --search ID``), the schema."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from search_trainers import train_quality
from sqlalchemy import inspect

import modelboard as mb
from modelboard.cli import main
from modelboard.experiments.claims import trial_rows
from modelboard.store import STORE_SCHEMA_VERSION, resolve_location
from modelboard.store.engine import make_engine
from modelboard.store.migrations import create_schema_at_version, read_schema_version


def test_a_failing_trial_is_recorded_as_failed_and_the_search_goes_on(tracker: mb.Tracker) -> None:
    space = {"quality": [0.5, "fail", 0.9, 0.2]}
    result = mb.search(
        train_quality, space, strategy="grid", metric="score", tracker=tracker, name="q"
    )
    children = tracker.store.list_runs(parent_id=result.search_id, newest_first=False)
    assert len(children) == 4
    by_trial = {int(c.tags["trial"]): c for c in children}
    assert [by_trial[i].status for i in range(4)] == ["finished", "failed", "finished", "finished"]
    failed = by_trial[1]
    assert failed.error is not None and failed.error["type"] == "RuntimeError"
    assert "breaks on purpose" in failed.error["message"]
    assert [by_trial[i].params for i in range(4)] == [{"quality": q} for q in space["quality"]]
    # train_fn returned None: the value is the last logged score, as ls reads it
    assert [t.value for t in result.trials] == [1.5, None, pytest.approx(2.7), pytest.approx(0.6)]
    assert result.best_index == 2 and result.best_run_id == by_trial[2].id
    assert result.best_params == {"quality": 0.9}

    parent = tracker.get(result.search_id)
    assert parent.run.status == "finished" and parent.run.tags["search"] == "true"
    assert parent.run.params["strategy"] == "grid" and parent.run.params["metric"] == "score"
    assert parent.run.params["mode"] == "max" and parent.run.params["n_trials"] == 4
    assert parent.run.params["space"] == {
        "quality": {"type": "choice", "values": [0.5, "fail", 0.9, 0.2]}
    }
    assert parent.run.flags["best_trial"] == by_trial[2].id
    assert parent.run.flags["best_value"] == pytest.approx(2.7)
    assert parent.run.flags["trials_failed"] == 1 and parent.run.flags["trials_finished"] == 3
    (plot,) = [a for a in parent.artifacts if a.path == "search/parallel_coordinates.png"]
    png = tracker.store.artifact_dir(result.search_id) / plot.path
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.size == png.stat().st_size
    # the leaderboard sees the best trial on the parent and the trials' params
    board = tracker.leaderboard(where=f"parent_id = '{result.search_id}'", columns=["quality"])
    assert sorted(board["quality"].astype(str)) == sorted(["0.5", "fail", "0.9", "0.2"])


def test_median_pruning_stops_a_clearly_bad_trial(tracker: mb.Tracker) -> None:
    result = mb.search(
        train_quality,
        {"quality": [0.8, 0.9, 0.05, 0.95]},
        strategy="grid",
        metric="score",
        prune="median",
        tracker=tracker,
    )
    states = [t.status for t in result.trials]
    assert states == ["finished", "finished", "pruned", "finished"]
    runs = tracker.store.list_runs(parent_id=result.search_id)
    children = {int(c.tags["trial"]): c for c in runs}
    pruned = children[2]
    assert pruned.status == "pruned" and pruned.tags["pruned_at_epoch"] == "0"
    assert pruned.error is not None and pruned.error["type"] == "TrialPruned"
    # it stopped at epoch 0: one point logged, not three
    assert tracker.get(pruned.id).training.metrics["score"].values == [0.05]
    assert tracker.get(result.search_id).run.flags["trials_pruned"] == 1
    assert result.best_index == 3
    pruned_runs = tracker.leaderboard(where="status = 'pruned'", columns=["id"])
    assert list(pruned_runs["id"]) == [pruned.id]


def test_a_version_2_store_is_migrated_to_hold_searches(any_store: str, plugin_manager) -> None:
    engine = make_engine(resolve_location(any_store).url)
    create_schema_at_version(engine, 2)
    with engine.connect() as conn:
        assert not inspect(conn).has_table("search_trials")
    engine.dispose()
    with mb.Tracker(any_store, plugin_manager=plugin_manager, announce=False) as tracker:
        with tracker.store.engine.connect() as conn:
            assert read_schema_version(conn) == STORE_SCHEMA_VERSION == 4
            assert inspect(conn).has_table("search_trials")
        result = mb.search(
            train_quality, {"quality": [0.3, 0.6]}, strategy="grid", metric="score", tracker=tracker
        )
        assert [t.status for t in trial_rows(tracker.store.engine, result.search_id)] == [
            "finished",
            "finished",
        ]


def test_the_cli_runs_a_search_from_a_file_and_lists_its_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "job.py"
    job.write_text(
        textwrap.dedent(
            """
            space = {"quality": [0.4, 0.7, 0.1], "unused": ["a"]}
            strategy = "grid"
            metric = "score"

            def train_fn(params, run):
                run.log(epoch=0, score=params["quality"])
                return params["quality"] * 10
            """
        )
    )
    store = str(tmp_path / "store")
    assert main(["search", str(job), "--store", store, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["best_trial_index"] == 1 and summary["best_value"] == 7.0
    assert summary["trials"] == {"finished": 3}
    assert main(["ls", "--store", store, "--search", summary["search_id"][:8], "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["trial"], r["best"], r["score"]) for r in rows] == [
        (0, False, 4.0),
        (1, True, 7.0),
        (2, False, 1.0),
    ]
    assert rows[1]["run_id"] == summary["best_trial"]
    assert main(["ls", "--store", store, "--search", summary["search_id"][:8]]) == 0
    table = capsys.readouterr().out
    best_line = next(line for line in table.splitlines() if summary["best_trial"][:8] in line)
    assert "*" in best_line and "0.7" in best_line
    assert f"best: trial 1 (run {summary['best_trial'][:8]})" in table


def test_the_cli_says_what_is_wrong_with_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "job.py"
    job.write_text("def train_fn(params, run):\n    return 1.0\n")
    assert main(["search", str(job), "--store", str(tmp_path / "s")]) == 2
    assert "defines no space" in capsys.readouterr().err
    assert main(["search", str(tmp_path / "missing.py"), "--store", str(tmp_path / "s")]) == 2
    assert "no such file" in capsys.readouterr().err
    run_store = tmp_path / "plain"
    with mb.Tracker(run_store, announce=False) as tracker:
        plain = tracker.start_run("plain")
        plain.finish()
    assert main(["ls", "--store", str(run_store), "--search", plain.id]) == 2
    assert "is not a search run" in capsys.readouterr().err


def test_bad_arguments_say_what_to_pass(tracker: mb.Tracker) -> None:
    space = {"quality": [0.5]}
    with pytest.raises(TypeError, match="cannot be sent there"):
        mb.search(lambda p, r: 1.0, space, n_trials=1, parallel=2, tracker=tracker)
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        mb.search(train_quality, space, n_trials=1, mode="best", tracker=tracker)
    with pytest.raises(ValueError, match="prune must be None or 'median'"):
        mb.search(train_quality, space, n_trials=1, prune="hyperband", tracker=tracker)
    plain = tracker.start_run("plain")
    plain.finish()
    with pytest.raises(ValueError, match="is not a search run"):
        mb.search(train_quality, join=plain.id, tracker=tracker)
    # nothing was started by the refused calls
    assert [r.name for r in tracker.runs()] == ["plain"]


def test_a_joining_call_returns_the_search_so_far(tracker: mb.Tracker) -> None:
    first = mb.search(
        train_quality, {"quality": [0.2, 0.6]}, strategy="grid", metric="score", tracker=tracker
    )
    again = mb.search(train_quality, join=first.search_id[:10], tracker=tracker)
    assert again.search_id == first.search_id and again.best_index == 1
    assert again.best_value == pytest.approx(1.8) and again.counts() == {"finished": 2}
    assert len(tracker.store.list_runs(parent_id=first.search_id)) == 2  # nothing ran twice


def test_deleting_a_search_run_deletes_its_trial_rows(tracker: mb.Tracker) -> None:
    result = mb.search(
        train_quality, {"quality": [0.2, 0.6]}, strategy="grid", metric="score", tracker=tracker
    )
    assert len(trial_rows(tracker.store.engine, result.search_id)) == 2
    tracker.delete(result.search_id)
    assert trial_rows(tracker.store.engine, result.search_id) == []
    assert len(tracker.store.list_runs(parent_id=result.search_id)) == 2  # the trial runs stay


def test_workers_that_all_die_leave_their_trials_said_not_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = tmp_path / "dies.py"
    job.write_text(
        textwrap.dedent(
            """
            import multiprocessing, os

            if multiprocessing.parent_process() is not None:
                os._exit(3)  # every worker process dies as it loads this file

            def train_fn(params, run):
                return 1.0
            """
        )
    )
    from modelboard.experiments import FileFunction

    with mb.Tracker(tmp_path / "store", announce=False) as tracker:
        result = mb.search(
            FileFunction(job),
            {"i": list(range(6))},
            strategy="grid",
            metric="score",
            parallel=2,
            tracker=tracker,
            stale_after=30,
        )
        parent = tracker.get(result.search_id).run
    states = result.counts()
    # two workers and two replacements each claimed a trial and died: four left running
    assert states == {"running": 4, "open": 2}
    assert parent.flags["trials_not_run"] == 6 and parent.flags["best_trial"] is None
    assert "did not run to an end" in caplog.text and result.search_id[:8] in caplog.text
