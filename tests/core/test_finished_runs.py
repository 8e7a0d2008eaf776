"""A finished run refuses every write and changes nothing (issue 12, item 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import modelboard as mb


def test_every_write_to_a_finished_run_is_refused(tmp_path: Path) -> None:
    artifact = tmp_path / "notes.txt"
    artifact.write_text("hello")
    with mb.Tracker(tmp_path / "store") as tracker:
        run = tracker.start_run("done")
        run.log_params(lr=0.1)
        run.set_tags(stage="one")
        run.log(loss=1.0)
        run.finish()
        before = tracker.get(run.id)
        y = np.array([0, 1, 1, 0])
        scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
        writes = [
            lambda: run.log(loss=2.0),
            lambda: run.log_params(lr=0.2),
            lambda: run.set_tags(stage="two"),
            lambda: run.evaluate(y_true=y, y_score=scores),
            lambda: run.log_artifact(artifact),
        ]
        for write in writes:
            with pytest.raises(mb.RunFinishedError, match="already finished"):
                write()
        after = tracker.get(run.id)
    assert after.run.params == before.run.params == {"lr": 0.1}
    assert after.run.tags == before.run.tags == {"stage": "one"}
    assert after.training.metrics["loss"].values == [1.0]
    assert after.evaluations == {} and after.artifacts == []
    assert not (Path(tracker.location.artifact_root) / run.id / "notes.txt").exists()
