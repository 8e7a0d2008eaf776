"""Plots: non-empty PNGs of the expected pixel size, stored as the run's artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import modelboard as mb
from modelboard.evaluation.plots import PLOT_SIZES


def _open_png(path: Path) -> Image.Image:
    assert path.is_file(), f"{path} was not written"
    assert path.stat().st_size > 1000
    image = Image.open(path)
    image.load()
    assert image.format == "PNG"
    return image


def _is_not_blank(image: Image.Image) -> bool:
    pixels = np.asarray(image.convert("L"))
    return bool(pixels.std() > 5)  # a drawn plot has ink, a blank canvas is uniform


@pytest.fixture
def predictions() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    logits = rng.normal(size=(400, 4))
    logits[np.arange(400), y] += 1.5
    return y, logits


def test_classification_plots(
    tracker: mb.Tracker, predictions: tuple[np.ndarray, np.ndarray]
) -> None:
    y, logits = predictions
    run = tracker.start_run("plots")
    for epoch in range(5):
        run.log(epoch=epoch, loss=1.0 / (epoch + 1), val_loss=1.1 / (epoch + 1))
        run.log(epoch=epoch, accuracy=0.5 + epoch / 10, val_accuracy=0.45 + epoch / 10)
    record = run.evaluate(y_true=y, y_score=logits, class_names=["a", "b", "c", "d"], split="test")
    expected = {
        "test_confusion_matrix.png": "confusion_matrix",
        "test_confusion_matrix_normalized.png": "confusion_matrix",
        "test_roc.png": "roc",
        "test_pr.png": "pr",
        "training_curves.png": "training_curves",
    }
    assert sorted(record.artifacts) == sorted(expected)
    for name, kind in expected.items():
        image = _open_png(run.artifact_dir / name)
        assert image.size == PLOT_SIZES[kind], name
        assert _is_not_blank(image), name
    run.finish()
    stored = tracker.get(run.id)
    assert stored.evaluations["test"].artifacts == record.artifacts
    registered = {a.path: a for a in tracker.store.get_artifacts(run.id)}
    for name in expected:
        assert registered[name].kind == "plot"
        assert registered[name].size == (run.artifact_dir / name).stat().st_size


def test_counts_and_normalised_confusion_plots_differ(
    tracker: mb.Tracker, predictions: tuple[np.ndarray, np.ndarray]
) -> None:
    y, logits = predictions
    run = tracker.start_run()
    run.evaluate(y_true=y, y_score=logits)
    counts = np.asarray(Image.open(run.artifact_dir / "val_confusion_matrix.png").convert("L"))
    normalised = np.asarray(
        Image.open(run.artifact_dir / "val_confusion_matrix_normalized.png").convert("L")
    )
    assert not np.array_equal(counts, normalised)
    run.finish()


def test_no_training_plot_without_training_metrics(
    tracker: mb.Tracker, predictions: tuple[np.ndarray, np.ndarray]
) -> None:
    y, logits = predictions
    run = tracker.start_run()
    record = run.evaluate(y_true=y, y_score=logits)
    assert "training_curves.png" not in record.artifacts
    assert not (run.artifact_dir / "training_curves.png").exists()
    assert record.warnings == []
    run.finish()


def test_regression_plot(tracker: mb.Tracker) -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    run = tracker.start_run()
    record = run.evaluate(y_true=y, y_pred=y + rng.normal(scale=0.1, size=300), split="holdout")
    assert record.artifacts == ["holdout_predictions.png"]
    image = _open_png(run.artifact_dir / "holdout_predictions.png")
    assert image.size == PLOT_SIZES["predictions"]
    run.finish()


def test_plots_false_writes_nothing(
    tracker: mb.Tracker, predictions: tuple[np.ndarray, np.ndarray]
) -> None:
    y, logits = predictions
    run = tracker.start_run()
    record = run.evaluate(y_true=y, y_score=logits, plots=False)
    assert record.artifacts == []
    assert tracker.store.get_artifacts(run.id) == []
    run.finish()


def test_a_failing_plot_is_recorded_and_the_evaluation_kept(
    tracker: mb.Tracker, predictions: tuple[np.ndarray, np.ndarray]
) -> None:
    y, logits = predictions
    run = tracker.start_run()
    run.artifact_dir.joinpath("val_roc.png").mkdir()  # a folder where the PNG should go
    record = run.evaluate(y_true=y, y_score=logits)
    assert "val_roc.png" not in record.artifacts
    assert "val_pr.png" in record.artifacts
    assert any(w.startswith("plot val_roc.png was not written") for w in record.warnings)
    run.finish()
    (stored,) = tracker.get(run.id).evaluations.values()
    assert stored.warnings == record.warnings
