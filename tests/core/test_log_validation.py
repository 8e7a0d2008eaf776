"""A value the store would refuse is refused at the call, and logging goes on (issue 12, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelboard as mb


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"step": 2**63, "loss": 1.0}, ValueError, "signed 64-bit"),
        ({"step": -(2**63) - 1, "loss": 1.0}, ValueError, "signed 64-bit"),
        ({"epoch": 2**64, "loss": 1.0}, ValueError, "signed 64-bit"),
        ({"step": 1.7, "loss": 1.0}, ValueError, "whole number"),
        ({"step": float("nan"), "loss": 1.0}, ValueError, "whole number"),
        ({"step": "3", "loss": 1.0}, TypeError, "whole number"),
        ({"x" * 256: 1.0}, ValueError, "at most 255"),
        ({"lo\x00ss": 1.0}, ValueError, "NUL"),
        ({"lo\udc80ss": 1.0}, ValueError, "lone surrogate"),
    ],
)
def test_bad_values_are_refused_at_the_call_and_later_points_are_kept(
    any_store: str, kwargs: dict, error: type, message: str
) -> None:
    with mb.Tracker(any_store) as tracker:
        run = tracker.start_run("validation")
        run.log(step=0, loss=0.5)
        with pytest.raises(error, match=message):
            run.log(**kwargs)
        run.log(step=1, loss=0.25)
        run.log(step=2.0, epoch=1, loss=0.125)  # a whole float is a whole number
        run.finish()
        stored = tracker.get(run.id)
    assert stored.status == "finished"
    series = stored.training.metrics["loss"]
    assert series.steps == [0, 1, 2] and series.values == [0.5, 0.25, 0.125]
    assert set(stored.training.metrics) == {"loss"}


def test_refused_tags_and_params_are_never_stored(any_store: str) -> None:
    with mb.Tracker(any_store) as tracker:
        run = tracker.start_run("validation")
        run.set_tags(ok="yes")
        with pytest.raises(ValueError, match="NUL"):
            run.set_tags(note="a\x00b", other="fine")
        with pytest.raises(ValueError, match="lone surrogate"):
            run.log_params(lr=0.1, name="bad\ud800")
        with pytest.raises(ValueError, match="at most 255"):
            run.log_params(**{"p" * 300: 1})
        run.log_params(batch_size=32)
        run.log(loss=1.0)
        run.finish()
        stored = tracker.get(run.id)
    assert stored.status == "finished"
    assert stored.run.tags == {"ok": "yes"}
    assert stored.run.params == {"batch_size": 32}
    assert stored.training.metrics["loss"].values == [1.0]


def test_numpy_integers_are_steps(tmp_path: Path) -> None:
    import numpy as np

    with mb.Tracker(tmp_path / "store") as tracker:
        run = tracker.start_run("numpy")
        run.log(step=np.int64(5), epoch=np.int32(1), loss=np.float32(0.5))
        with pytest.raises(ValueError, match="whole number"):
            run.log(step=np.float64(1.5), loss=1.0)
        run.finish()
        assert tracker.get(run.id).training.metrics["loss"].steps == [5]
