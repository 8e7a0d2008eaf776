"""What the Keras adapter does to ``fit`` when it only tracks, and how it writes the network
record during ``fit``: with gradients off the train step is Keras's own (no wrapper, no
retrace) and the tracker's callback needs no batch end; changes of the network record are
staged, written within the delay (a timer) or once at the end of the fit, and a change that
changes nothing is not written."""

from __future__ import annotations

import threading
from typing import Any

import keras
import pytest

from modelboard.adapters.keras import network_writes
from modelboard.adapters.keras.network_writes import NetworkWrites, same_value
from modelboard.records import OptimizerRecord


def _compiled(basic_cnn: Any) -> Any:
    model = basic_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def _count_writes(run: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every write of the network record: the fields that matter here, as written."""
    writes: list[dict[str, Any]] = []
    original = run.update_network

    def update_network(**fields: Any) -> None:
        original(**fields)
        network = run.network
        writes.append({"epochs_run": network.epochs_run, "epochs_planned": network.epochs_planned})

    monkeypatch.setattr(run, "update_network", update_network)
    return writes


def test_gradients_off_leave_the_train_step_as_keras_made_it(
    tracker: Any, basic_cnn: Any, digits: dict
) -> None:
    model = _compiled(basic_cnn)
    x, y = digits["x_train"][:64], digits["y_train"][:64]
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    step = model.train_function
    run = tracker.track(model, gradients_every=0)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert model.train_function is step  # not traced again
    assert "apply" not in vars(model.optimizer)  # no wrapper
    run.finish()
    record = tracker.get(run.id)
    assert record.network.epochs_run == 2 and record.gradients == []
    assert record.network.optimizer is not None  # it trained: the optimizer is named


def test_gradients_on_wrap_the_step_and_read_every_capture(
    tracker: Any, basic_cnn: Any, digits: dict
) -> None:
    model = _compiled(basic_cnn)
    x, y = digits["x_train"][:96], digits["y_train"][:96]
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    step = model.train_function
    run = tracker.track(model, gradients_every=2)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert model.train_function is not step and "apply" in vars(model.optimizer)
    run.finish()
    assert [g.step for g in tracker.get(run.id).gradients] == [4, 6, 8]
    assert "apply" not in vars(model.optimizer)  # finish took the wrapper away


def test_a_short_fit_writes_its_network_record_once(
    tracker: Any, basic_cnn: Any, digits: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network_writes, "NETWORK_WRITE_DELAY_S", 3600.0)  # never due in a fit
    model = _compiled(basic_cnn)
    run = tracker.track(model, gradients_every=0)
    writes = _count_writes(run, monkeypatch)
    x, y = digits["x_train"][:96], digits["y_train"][:96]
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    # begin (epochs planned, batch size, steps, optimizers) and 3 epochs: one write, at the end
    assert writes == [{"epochs_run": 3, "epochs_planned": 3}]
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert writes[1:] == [{"epochs_run": 5, "epochs_planned": 5}]
    run.finish()
    network = tracker.get(run.id).network
    assert (network.epochs_run, network.epochs_planned) == (5, 5)
    assert (network.batch_size, network.steps_per_epoch) == (32, 3)
    assert network.optimizer is not None and network.optimizer.name == "adam"


def test_a_long_fit_writes_its_changes_within_the_delay(
    tracker: Any, basic_cnn: Any, digits: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network_writes, "NETWORK_WRITE_DELAY_S", 0.05)
    model = _compiled(basic_cnn)
    run = tracker.track(model, gradients_every=0)
    writes = _count_writes(run, monkeypatch)
    seen: list[list[dict[str, Any]]] = []

    class WaitsForTheWrite(keras.callbacks.Callback):
        """At epoch 1's start (the tracker staged epoch 0's count after this callback's
        epoch end), wait until the timer wrote it: the fit has not ended."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if epoch != 1:
                return
            for _ in range(600):
                if any(w["epochs_run"] == 1 for w in writes):
                    break
                threading.Event().wait(0.05)
            seen.append(list(writes))

    x, y = digits["x_train"][:64], digits["y_train"][:64]
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[WaitsForTheWrite()])
    assert {"epochs_run": 1, "epochs_planned": 2} in seen[0]
    assert writes[-1] == {"epochs_run": 2, "epochs_planned": 2}
    run.finish()
    assert tracker.get(run.id).network.epochs_run == 2


def test_a_flush_while_the_timer_waits_to_write_writes_too(
    tracker: Any, basic_cnn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tracker.track(_compiled(basic_cnn), gradients_every=0)
    original = run.update_network
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def update_network(**fields: Any) -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:  # the timer's write: held as if the run's lock were taken
            entered.set()
            release.wait(30)
        original(**fields)

    monkeypatch.setattr(run, "update_network", update_network)
    writes = NetworkWrites(run, delay=0.0)
    assert writes.stage(batch_size=7)
    assert entered.wait(30)
    writes.flush()  # nothing staged since, but the timer's write has not happened yet
    release.set()
    assert calls == ["modelboard-keras-network", threading.current_thread().name]
    assert run.network.batch_size == 7
    run.finish()
    assert tracker.get(run.id).network.batch_size == 7


def test_a_change_that_changes_nothing_is_not_written(
    tracker: Any, basic_cnn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tracker.track(_compiled(basic_cnn), gradients_every=0)
    writes = _count_writes(run, monkeypatch)
    staged = NetworkWrites(run, delay=3600.0)
    current = run.network
    assert not staged.stage(epochs_run=current.epochs_run, optimizer=current.optimizer)
    staged.flush()
    assert writes == [] and not staged.pending
    assert staged.stage(epochs_run=current.epochs_run + 4)
    assert staged.pending
    staged.flush()
    assert writes == [{"epochs_run": 4, "epochs_planned": current.epochs_planned}]
    with pytest.raises(AttributeError, match="no field 'epochs'"):
        staged.stage(epochs=1)
    run.finish()


def test_same_value_compares_records_by_their_fields() -> None:
    a = OptimizerRecord(name="adam", class_name="Adam", learning_rate=1e-3, config={"b": [1, 2]})
    b = OptimizerRecord(name="adam", class_name="Adam", learning_rate=1e-3, config={"b": [1, 2]})
    c = OptimizerRecord(name="adam", class_name="Adam", learning_rate=1e-3, config={"b": [1, 3]})
    assert same_value(a, b) and same_value([a], [b]) and same_value({"o": a}, {"o": b})
    assert not same_value(a, c) and not same_value([a], [a, a])
    assert not same_value(1, 1.0)  # a change of type is a change
    assert not same_value(float("nan"), float("nan"))  # written again: never a missed change
    assert not same_value(None, 0)
