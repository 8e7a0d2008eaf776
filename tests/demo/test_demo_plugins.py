"""A third-party adapter joins ``modelboard demo`` through the demo hooks alone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelboard as mb
from modelboard.demo import DemoJob, DemoModels


class NearestCentroidDemo:
    """A "framework" in numpy: nearest class centroid, one pass per epoch over the batches."""

    def __init__(self) -> None:
        self.sessions: list[str] = []

    @mb.hookimpl
    def modelboard_demo_models(self) -> DemoModels:
        return DemoModels("centroid", ("basic_cnn",), requirements=("numpy",))

    @mb.hookimpl
    def modelboard_demo_session(self, frameworks: list[str]) -> Any:
        if "centroid" not in frameworks:
            return None

        @contextlib.contextmanager
        def session() -> Iterator[None]:
            self.sessions.append("entered")
            yield
            self.sessions.append("left")

        return session()

    @mb.hookimpl
    def modelboard_demo_train(self, job: DemoJob) -> Any:
        if job.framework != "centroid":
            return None
        data, setting = job.data, job.setting
        x = data.x_train.reshape(len(data.x_train), -1)
        x_val = data.x_val.reshape(len(data.x_val), -1)
        run = job.context.tracker.start_run(setting.model, hparams=job.hparams(), tags=job.tags())
        job.run_id = run.id
        with run:
            sums = np.zeros((data.num_classes, x.shape[1]))
            counts = np.zeros(data.num_classes)
            for epoch in range(setting.epochs):
                for start in range(0, len(x), setting.batch_size):
                    xb = x[start : start + setting.batch_size]
                    yb = data.y_train[start : start + setting.batch_size]
                    np.add.at(sums, yb, xb)
                    np.add.at(counts, yb, 1)
                    job.advance(1)
                centroids = sums / np.maximum(counts, 1)[:, None]
                distances = ((x_val[:, None, :] - centroids[None]) ** 2).sum(axis=2)
                run.log(epoch=epoch, val_accuracy=float((distances.argmin(1) == data.y_val).mean()))
            scores = np.exp(-distances)
            scores /= scores.sum(axis=1, keepdims=True)
            run.evaluate(y_true=data.y_val, y_score=scores, class_names=data.class_names)
        return run


def test_a_third_party_adapter_trains_its_runs_in_the_demo(tmp_path: Path) -> None:
    from modelboard.demo import main
    from modelboard.plugins import get_plugin_manager

    plugin = NearestCentroidDemo()
    manager = get_plugin_manager()
    manager.register(plugin, name="centroid-demo")
    try:
        store = tmp_path / "store"
        assert main(["--quick", "--frameworks", "centroid", "--store", str(store)]) == 0
    finally:
        manager.unregister(plugin)
    assert plugin.sessions == ["entered", "left"]
    with mb.Tracker(store) as tracker:
        runs = tracker.runs()
        assert [(r.name, r.status) for r in runs] == [("basic_cnn", "finished")]
        stored = tracker.get(runs[0].id)
    assert stored.run.tags["framework"] == "centroid"
    assert stored.training.metrics["val_accuracy"].values[-1] > 0.5
    assert len(stored.evaluations["val"].per_class["recall"]) == 10


def test_an_unknown_framework_names_the_offered_ones(capsys: pytest.CaptureFixture[str]) -> None:
    from modelboard.demo import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--frameworks", "jax"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown framework 'jax'; choose from keras,torch" in err
