"""A run with every record type reads back equal, on SQLite and on PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import modelboard as mb
from modelboard.gradients import make_gradient_record
from modelboard.records import (
    AugmentationRecord,
    EvaluationRecord,
    LayerRecord,
    NetworkRecord,
    OptimizerRecord,
    ParameterGradientStats,
)


def _network() -> NetworkRecord:
    return NetworkRecord(
        framework="keras",
        architecture="basic_cnn",
        layers=[
            LayerRecord(
                path="conv",
                type="Conv2D",
                canonical_type="conv2d",
                canonical_config={"filters": 4, "kernel_size": [3, 3]},
                trainable_params=40,
                output_shape=[None, 8, 8, 4],
            ),
            LayerRecord(
                path="dense",
                type="Dense",
                canonical_type="dense",
                canonical_config={"units": 10},
                trainable_params=2570,
            ),
        ],
        total_params=2610,
        trainable_params=2610,
        optimizer=OptimizerRecord(name="SGD", learning_rate=0.01, config={"momentum": 0.0}),
        loss="sparse_categorical_crossentropy",
        batch_size=32,
        epochs_planned=2,
    )


def test_every_record_type_round_trips(any_store: str, plugin_manager, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 8, 8, 1)), rng.integers(0, 10, 50)
    data = mb.Data(
        "digits",
        train=(x, y),
        val=(x[:10], y[:10]),
        features=["pixels"],
        augmentations={"rotation_range": 10.0, "zoom_range": 0.1},
    )
    artifact = tmp_path / "notes.txt"
    artifact.write_text("hello")

    with mb.Tracker(
        any_store, plugin_manager=plugin_manager, artifact_root=tmp_path / "artifacts"
    ) as tracker:
        run = tracker.start_run(
            "everything",
            data=data,
            hparams={"lr": 0.01, "nested": {1: "a"}},
            tags={"baseline": "yes"},
        )
        run.set_network(_network())
        for epoch in range(3):
            run.log(epoch=epoch, loss=1.0 / (epoch + 1), accuracy=np.float32(0.25 * epoch))
        run.log(step=10, loss=float("nan"))
        grads = make_gradient_record(
            [
                ParameterGradientStats(
                    name="conv/kernel",
                    shape=[3, 3, 1, 4],
                    l2_norm=0.5,
                    mean=0.01,
                    std=0.1,
                    max_abs=0.3,
                    zero_fraction=0.0,
                    weight_norm=1.2,
                )
            ],
            step=3,
            epoch=1,
        )
        run.log_gradients(grads)
        evaluation = EvaluationRecord(
            split="val",
            task="multiclass",
            n_samples=10,
            class_names=[str(i) for i in range(10)],
            metrics={"accuracy": 0.3, "auc_macro": None},
            per_class={"precision": [0.1] * 10},
            confusion_matrix=[[1] * 10 for _ in range(10)],
            nulls={"auc_macro": "only one class in y_true"},
        )
        run.store_evaluation(evaluation)
        run.log_artifact(artifact)
        run.finish()

        stored = tracker.get(run.id)
        assert stored.run == run.record
        assert stored.run.status == "finished"
        assert stored.data == data.record
        expected_network = _network()
        expected_network.epochs_run = 3  # the epochs the loop logged, counted at finish
        # what no loop told is empty, and the record says why
        assert expected_network.steps_per_epoch is None
        assert set(run.network.unknown) == {"steps_per_epoch"}
        expected_network.unknown = dict(run.network.unknown)
        assert stored.network == expected_network == run.network
        assert stored.gradients == [grads]
        assert stored.evaluations == {"val": evaluation}
        assert [a.path for a in stored.artifacts] == ["notes.txt"]
        assert (run.artifact_dir / "notes.txt").read_text() == "hello"
        loss = stored.training.metrics["loss"]
        assert loss.steps == [0, 1, 2, 10]
        assert loss.epochs == [0, 1, 2, None]
        assert loss.values[:3] == [1.0, 0.5, 1.0 / 3] and math.isnan(loss.values[3])
        assert stored.training.metrics["accuracy"].values == [0.0, 0.25, 0.5]
        assert stored.run.params["nested"] == {1: "a"}

        # the same records through a second tracker: nothing lived only in memory
    with mb.Tracker(
        any_store, plugin_manager=plugin_manager, artifact_root=tmp_path / "artifacts"
    ) as reopened:
        again = reopened.get(run.id[:8])
        assert again.run == stored.run and again.network == stored.network
        assert again.training == stored.training
        assert [r.id for r in reopened.runs()] == [run.id]


def test_runs_filters_by_project_and_status(tracker: mb.Tracker) -> None:
    a = tracker.start_run("a", project="p1")
    b = tracker.start_run("b", project="p2")
    a.finish()
    assert [r.name for r in tracker.runs(project="p1")] == ["a"]
    assert [r.name for r in tracker.runs(status="running")] == ["b"]
    assert {r.name for r in tracker.runs()} == {"a", "b"}
    b.finish("failed")
    assert [r.name for r in tracker.runs(status=["failed"])] == ["b"]


def test_unknown_and_ambiguous_ids_get_clear_errors(tracker: mb.Tracker) -> None:
    with pytest.raises(mb.RunNotFoundError, match="no run with id 'ffff'"):
        tracker.get("ffff")
    runs = [tracker.start_run(f"r{i}") for i in range(20)]
    first = runs[0].id
    assert tracker.get(first[:12]).name == "r0"
    shared = {r.id[0] for r in runs}
    common = next(c for c in shared if sum(r.id[0] == c for r in runs) > 1)
    with pytest.raises(mb.AmbiguousRunIdError, match="matches several runs"):
        tracker.get(common)


def test_bad_metric_values_are_refused_without_losing_earlier_points(tracker: mb.Tracker) -> None:
    run = tracker.start_run("bad")
    run.log(loss=0.5)
    with pytest.raises(TypeError, match="metric 'loss' must be a real number"):
        run.log(loss="high")
    with pytest.raises(ValueError, match="at least one metric"):
        run.log()
    run.log(loss=0.25)
    run.finish()
    assert tracker.get(run.id).training.metrics["loss"].values == [0.5, 0.25]
    with pytest.raises(mb.RunFinishedError, match="already finished"):
        run.log(loss=0.1)


def test_context_manager_marks_failed_with_the_error_and_reraises(tracker: mb.Tracker) -> None:
    with pytest.raises(ZeroDivisionError), tracker.start_run("boom") as run:
        run.log(loss=1.0)
        1 / 0  # noqa: B018
    stored = tracker.get(run.id)
    assert stored.run.status == "failed"
    assert stored.run.error["type"] == "ZeroDivisionError"
    assert "division by zero" in stored.run.error["message"]
    assert stored.training.metrics["loss"].values == [1.0]
    with tracker.start_run("fine") as ok:
        ok.log(loss=0.0)
    assert tracker.get(ok.id).run.status == "finished"


def test_store_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugin_manager) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELBOARD_URI", raising=False)
    monkeypatch.delenv("MODELBOARD_ARTIFACT_ROOT", raising=False)
    with mb.Tracker(plugin_manager=plugin_manager) as default:
        assert default.location.url == f"sqlite:///{tmp_path / '.modelboard' / 'modelboard.db'}"
        assert default.location.artifact_root == tmp_path / ".modelboard" / "artifacts"
    assert (tmp_path / ".modelboard" / "modelboard.db").exists()
    monkeypatch.setenv("MODELBOARD_URI", f"sqlite:///{tmp_path / 'env.db'}")
    with mb.Tracker(plugin_manager=plugin_manager) as from_env:
        from_env.start_run("x").finish()
        assert from_env.location.artifact_root == tmp_path / "artifacts"
    assert (tmp_path / "env.db").exists()


def test_updating_a_long_running_run_keeps_its_heartbeat_fresh(store_path, plugin_manager) -> None:
    with mb.Tracker(store_path, plugin_manager=plugin_manager, heartbeat_timeout=5) as tracker:
        run = tracker.start_run("long")
        fresh = run.record.created + 100.0  # as if the writer thread had beaten much later
        tracker.store.append(run.id, [], heartbeat=fresh)
        run.log_params(lr=0.1)  # rewrites the run row with the record's older heartbeat
        assert tracker.store.get_run(run.id).heartbeat == fresh
        run.finish()


def test_an_unreachable_server_is_one_clear_error(plugin_manager) -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=2"
    with pytest.raises(mb.StoreUnavailableError) as caught:
        mb.Tracker(url, plugin_manager=plugin_manager, artifact_root="/tmp/mb-unused")
    message = str(caught.value)
    assert message.startswith(
        "cannot open the store at postgresql+psycopg://nobody:***@127.0.0.1:9"
    )
    assert "secret" not in message and "MODELBOARD_URI" in message


def test_epochs_logged_by_a_users_loop_count_as_epochs_run(tracker: mb.Tracker) -> None:
    run = tracker.start_run("loop")
    run.set_network(NetworkRecord(framework="torch", architecture="net"))
    assert run.last_epoch is None
    for epoch in (1, 2, 3):
        run.log(epoch=epoch, loss=1.0 / epoch)
        run.log(epoch=epoch, step=100 + epoch, val_loss=2.0 / epoch)
    assert run.last_epoch == 3
    run.finish()
    assert tracker.get(run.id).network.epochs_run == 3


def _refuse_metric_writes(tracker: mb.Tracker, refuse: bool, when: str = "1") -> None:
    """Make the real database reject new metric rows (a trigger), or accept them again."""
    with tracker.store.engine.begin() as conn:
        if refuse:
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON metrics WHEN {when} "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
            )
        else:
            conn.exec_driver_sql("DROP TRIGGER refuse")


def test_a_store_refusing_rows_drops_only_them_and_training_goes_on(tracker: mb.Tracker) -> None:
    run = tracker.start_run("refused")
    run.set_network(NetworkRecord(framework="torch", architecture="net"))
    run.log(loss=1.0)
    run.flush()
    _refuse_metric_writes(tracker, refuse=True, when="NEW.value = 0.5")
    for value in (0.25, 0.5, 0.75):
        run.log(loss=value)  # what training hooks call: none of these raises
    run.update_network(epochs_run=1)
    run.finish()
    _refuse_metric_writes(tracker, refuse=False)
    stored = tracker.get(run.id)
    assert stored.status == "finished"
    assert stored.training.metrics["loss"].values == [1.0, 0.25, 0.75]
    assert stored.network.epochs_run == 1
    dropped = tracker.store.get_dropped(run.id)
    assert dropped["counts"] == {"points": 1}
    assert "refused by the test trigger" in dropped["reasons"][0]


def test_a_failing_store_does_not_hide_the_users_exception(tracker: mb.Tracker) -> None:
    with pytest.raises(KeyError, match="the user's own error"), tracker.start_run("masked") as run:
        run.log(loss=1.0)
        run.flush()
        _refuse_metric_writes(tracker, refuse=True)
        run.log(loss=2.0)
        raise KeyError("the user's own error")
    _refuse_metric_writes(tracker, refuse=False)
    run.finish()
    stored = tracker.get(run.id)
    assert stored.status == "failed" and stored.run.error["type"] == "KeyError"
    assert stored.training.metrics["loss"].values == [1.0]
    assert tracker.store.get_dropped(run.id)["counts"] == {"points": 1}


def test_data_is_copied_and_checked_before_a_run_is_stored(tracker: mb.Tracker) -> None:
    data = mb.Data("d", train=(np.zeros((4, 2)), np.array([0, 1, 0, 1])))
    run = tracker.start_run("a", data=data)
    run.data.augmentations.append(AugmentationRecord(source="user", type="flip"))
    assert data.record.augmentations == []  # the user's mb.Data is not changed by a run
    with pytest.raises(TypeError, match="data= takes mb.Data"):
        tracker.start_run("bad", data=[1, 2])
    assert [r.name for r in tracker.runs()] == ["a"]  # no ghost run was stored
    run.finish()


def test_numpy_hyperparameters_sort_and_filter_as_numbers(tracker: mb.Tracker) -> None:
    for batch in np.array([16, 64, 32]):
        tracker.start_run(
            f"b{batch}", hparams={"batch_size": batch, "lr": np.float32(0.5)}
        ).finish()
    frame = tracker.leaderboard(sort="batch_size", ascending=True, where="batch_size > 20")
    assert list(frame["name"]) == ["b32", "b64"]
    assert list(frame["params.lr"]) == [0.5, 0.5]
