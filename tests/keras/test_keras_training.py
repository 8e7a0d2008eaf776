"""History, epochs, early stopping and attach/detach through a plain model.fit()."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest


def _compiled(basic_cnn: Any, **compile_args: Any) -> Any:
    model = basic_cnn()
    compile_args.setdefault("optimizer", "adam")
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"], **compile_args)
    return model


def test_plain_fit_records_history_and_second_fit_continues(
    tracker: Any, basic_cnn: Any, digits: dict
) -> None:
    model = _compiled(basic_cnn)
    run = tracker.track(model, gradients_every=0)
    x, y = digits["x_train"][:320], digits["y_train"][:320]
    val = (digits["x_val"][:100], digits["y_val"][:100])
    history = model.fit(x, y, validation_data=val, epochs=2, batch_size=32, verbose=0)
    assert run.network.epochs_run == 2 and run.network.steps_per_epoch == 10
    model.fit(x, y, validation_data=val, epochs=1, batch_size=64, verbose=0)
    run.finish()
    stored = tracker.get(run.id)
    metrics = stored.training.metrics
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(metrics)
    assert metrics["val_accuracy"].steps == [0, 1, 2]
    assert metrics["val_accuracy"].epochs == [0, 1, 2]
    assert metrics["loss"].values[:2] == pytest.approx(history.history["loss"], rel=1e-6)
    assert metrics["learning_rate"].values == pytest.approx([0.001] * 3)
    wall = metrics["loss"].wall_times
    assert wall == sorted(wall) and wall[0] >= stored.run.created
    network = stored.network
    assert network.epochs_planned == 3 and network.epochs_run == 3
    assert network.batch_size == 64 and network.steps_per_epoch == 5
    assert network.early_stopping is None


def test_early_stopping_is_recorded(tracker: Any, basic_cnn: Any, digits: dict) -> None:
    model = _compiled(basic_cnn)
    run = tracker.track(model)
    # min_delta is unreachable, so the second epoch cannot improve: stop there, best is the first
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=1, min_delta=100.0, restore_best_weights=True
    )
    model.fit(
        digits["x_train"][:64],
        digits["y_train"][:64],
        validation_data=(digits["x_val"][:32], digits["y_val"][:32]),
        epochs=6,
        batch_size=32,
        verbose=0,
        callbacks=[stop],
    )
    run.finish()
    network = tracker.get(run.id).network
    assert network.epochs_planned == 6 and network.epochs_run == 2
    stopping = network.early_stopping
    assert stopping["patience"] == 1 and stopping["monitor"] == "val_loss"
    assert stopping["stopped"] is True and stopping["stopped_epoch"] == 1
    assert stopping["best_epoch"] == 0 and stopping["weights_restored"] is True
    assert stopping["best_value"] == pytest.approx(
        tracker.get(run.id).training.metrics["val_loss"].values[0], rel=1e-6
    )


def test_learning_rate_schedule_is_logged_per_epoch(
    tracker: Any, basic_cnn: Any, digits: dict
) -> None:
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model = _compiled(basic_cnn, optimizer=keras.optimizers.SGD(schedule))
    run = tracker.track(model)
    model.fit(digits["x_train"][:64], digits["y_train"][:64], epochs=2, batch_size=32, verbose=0)
    run.finish()
    rates = tracker.get(run.id).training.metrics["learning_rate"].values
    assert rates == pytest.approx([0.05, 0.025], rel=1e-5)  # after 2 and 4 optimizer steps


def test_finish_restores_fit_compile_and_optimizer(
    tracker: Any, basic_cnn: Any, digits: dict
) -> None:
    model = _compiled(basic_cnn)
    class_fit = type(model).fit
    run = tracker.track(model, gradients_every=1)
    assert "fit" in vars(model) and "compile" in vars(model)
    model.fit(digits["x_train"][:32], digits["y_train"][:32], batch_size=32, verbose=0)
    assert "apply" in vars(model.optimizer)
    run.finish()
    assert "fit" not in vars(model) and "compile" not in vars(model)
    assert "apply" not in vars(model.optimizer)
    assert model.fit.__func__ is class_fit and model.train_function is None
    model.fit(digits["x_train"][:32], digits["y_train"][:32], batch_size=32, verbose=0)
    stored = tracker.get(run.id)
    assert stored.training.metrics["loss"].steps == [0] and len(stored.gradients) == 1


def test_tracking_again_detaches_the_first_run(tracker: Any, basic_cnn: Any, digits: dict) -> None:
    model = _compiled(basic_cnn)
    first = tracker.track(model)
    second = tracker.track(model)
    model.fit(digits["x_train"][:64], digits["y_train"][:64], batch_size=32, verbose=0)
    assert first.status == "running"
    first.finish()
    assert "fit" in vars(model)  # the second run's wrapper stays
    second.finish()
    assert "fit" not in vars(model) and "apply" not in vars(model.optimizer)
    assert tracker.get(first.id).training.metrics == {}
    assert tracker.get(second.id).training.metrics["loss"].steps == [0]
    assert len(tracker.get(second.id).gradients) == 1


def test_two_trackers_on_one_model_unwind_in_any_order(
    tmp_path: Any, basic_cnn: Any, digits: dict
) -> None:
    import modelboard as mb

    model = _compiled(basic_cnn)
    with mb.Tracker(tmp_path / "a") as tracker_a, mb.Tracker(tmp_path / "b") as tracker_b:
        run_a = tracker_a.track(model, gradients_every=0)
        run_b = tracker_b.track(model, gradients_every=0)
        model.fit(digits["x_train"][:32], digits["y_train"][:32], batch_size=32, verbose=0)
        run_a.finish()
        model.fit(digits["x_train"][:32], digits["y_train"][:32], batch_size=32, verbose=0)
        run_b.finish()
        assert "fit" not in vars(model) and "compile" not in vars(model)
        assert tracker_a.get(run_a.id).training.metrics["loss"].steps == [0]
        assert tracker_b.get(run_b.id).training.metrics["loss"].steps == [0, 1]


def test_callbacks_given_positionally_still_run(tracker: Any, basic_cnn: Any, digits: dict) -> None:
    model = _compiled(basic_cnn)
    seen: list[int] = []
    mine = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    run = tracker.track(model)
    x, y = digits["x_train"][:32], digits["y_train"][:32]
    model.fit(x, y, 16, 2, 0, [mine])
    run.finish()
    assert seen == [0, 1]
    network = tracker.get(run.id).network
    assert network.batch_size == 16 and network.epochs_run == 2 and network.steps_per_epoch == 2


def test_a_failing_fit_raises_and_finish_still_detaches(tracker: Any, basic_cnn: Any) -> None:
    model = _compiled(basic_cnn)
    run = tracker.track(model)
    with pytest.raises((ValueError, RuntimeError)):  # too small for 3 poolings
        model.fit(np.zeros((4, 3, 3, 1), "float32"), np.zeros((4, 10), "float32"), verbose=0)
    assert "fit" in vars(model)
    run.finish("failed")
    assert "fit" not in vars(model) and tracker.get(run.id).status == "failed"
