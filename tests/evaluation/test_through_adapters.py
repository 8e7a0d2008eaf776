"""Keras and PyTorch runs evaluated through their adapters' predict hook.

``run.evaluate(x, y)`` must give the metrics that scikit-learn, called here directly, gives on
the same predictions (``run.predict(x)``); the predictions must be the model's own outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelboard as mb
from modelboard.records import EvaluationRecord


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sklearn's 8x8 digits, flattened and scaled to [0, 1]: 1200 for training, 597 to evaluate."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    return x[:1200], y[:1200], x[1200:], y[1200:]


def sklearn_metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """The metrics as scikit-learn gives them for labels ``y`` and probabilities ``probs``."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        balanced_accuracy_score,
        confusion_matrix,
        log_loss,
        precision_recall_fscore_support,
        roc_auc_score,
        top_k_accuracy_score,
    )

    labels = np.arange(probs.shape[1])
    pred = probs.argmax(axis=1)
    onehot = np.eye(probs.shape[1])[y]
    out: dict[str, Any] = {
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
        "top_3_accuracy": top_k_accuracy_score(y, probs, k=3, labels=labels),
        "top_5_accuracy": top_k_accuracy_score(y, probs, k=5, labels=labels),
        "auc_macro": roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=labels),
        "auc_micro": roc_auc_score(onehot, probs, average="micro"),
        "average_precision_macro": average_precision_score(onehot, probs, average="macro"),
        "average_precision_micro": average_precision_score(onehot, probs, average="micro"),
        "log_loss": log_loss(y, probs, labels=labels),
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
    }
    for average in ("macro", "micro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y, pred, labels=labels, average=average, zero_division=0
        )
        out[f"precision_{average}"], out[f"recall_{average}"], out[f"f1_{average}"] = p, r, f
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    out["per_class"] = {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(),
                        "support": s.tolist()}  # fmt: skip
    return out


def assert_same_as_sklearn(record: EvaluationRecord, y: np.ndarray, probs: np.ndarray) -> None:
    expected = sklearn_metrics(y, probs)
    assert record.confusion_matrix == expected.pop("confusion_matrix")
    for name, values in expected.pop("per_class").items():
        assert record.per_class[name] == pytest.approx(values, abs=1e-12), name
    # log loss is computed on rows renormalised in float64 (float32 rows sum to 1 +- 1e-7)
    assert record.metrics["log_loss"] == pytest.approx(expected.pop("log_loss"), rel=1e-5)
    for name, value in expected.items():
        assert record.metrics[name] == pytest.approx(value, abs=1e-12), name
    assert record.nulls == {}


def _evaluate_tracked(model: Any, x: np.ndarray, y: np.ndarray, store: Path) -> tuple:
    with mb.Tracker(store) as tracker:
        run = tracker.track(model)
        record = run.evaluate(x, y, plots=False)
        probs = run.predict(x)  # the predictions the evaluation used
        run.finish()
        stored = tracker.get(run.id).evaluations["val"]
    return record, np.asarray(probs), stored


@pytest.fixture
def torch_threads() -> Iterator[Any]:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))  # the test machine's cores are shared
    yield torch
    torch.set_num_threads(before)


@pytest.mark.torch
def test_torch_run_matches_sklearn(digits: tuple, torch_threads: Any, tmp_path: Path) -> None:
    torch = torch_threads
    from torch import nn

    x_train, y_train, x_val, y_val = digits
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))  # returns logits
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(40):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        optimizer.step()

    record, probs, stored = _evaluate_tracked(model, x_val, y_val, tmp_path / "s")

    with torch.no_grad():
        own = torch.softmax(model(torch.from_numpy(x_val)), dim=1).numpy()
    np.testing.assert_allclose(probs, own, atol=1e-6)  # the adapter softmaxed the logits
    assert record.inputs["prediction_source"] == "model"
    assert record.score_kind == "probabilities"
    assert record.n_samples == len(y_val)
    assert record.metrics["accuracy"] > 0.8  # a trained model, not noise
    assert_same_as_sklearn(record, y_val, probs)
    assert stored == record


@pytest.mark.keras
def test_keras_run_matches_sklearn(digits: tuple, tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")

    x_train, y_train, x_val, y_val = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=64, verbose=0)

    record, probs, stored = _evaluate_tracked(model, x_val, y_val, tmp_path / "s")

    own = np.asarray(model(x_val, training=False))
    np.testing.assert_allclose(probs, own, atol=1e-6)
    assert record.inputs["prediction_source"] == "model"
    assert record.score_kind == "probabilities"
    assert record.metrics["accuracy"] > 0.8
    assert_same_as_sklearn(record, y_val, probs)
    assert stored == record
