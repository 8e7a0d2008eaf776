"""Reading inputs: task inference, label and score formats, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelboard as mb
from modelboard.evaluation import compute_evaluation

PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]])


# -- task and format inference ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("y_true", "kwargs", "task"),
    [
        ([0, 1, 1, 0], {"y_score": [0.2, 0.7, 0.9, 0.1]}, "binary"),
        ([True, False, True], {"y_pred": [True, True, False]}, "binary"),
        ([0, 1, 2, 0], {"y_score": PROBS}, "multiclass"),
        ([[1, 0, 1], [0, 1, 0], [1, 1, 0]], {"y_score": np.full((3, 3), 0.6)}, "multilabel"),
        ([0.5, 1.5, 2.25], {"y_pred": [0.4, 1.6, 2.0]}, "regression"),
        ([1, 2, 3], {"y_pred": [1.2, 2.1, 2.7]}, "regression"),  # integer targets, float preds
    ],
)
def test_task_is_inferred(y_true: object, kwargs: dict, task: str) -> None:
    record = compute_evaluation(y_true, **kwargs)
    assert record.task == task
    assert record.inputs["task_source"].startswith("inferred")


def test_task_given_overrides_inference() -> None:
    record = compute_evaluation([1, 2, 3], y_pred=[1, 2, 4], task="regression")
    assert record.task == "regression"
    assert record.metrics["max_error"] == 1.0
    assert record.inputs["task_source"] == "given"


def test_binary_logits_are_detected_and_squashed() -> None:
    # sigmoid is monotonic: predictions are logit > 0, AUC is the same as for probabilities
    logits = np.array([-2.0, 3.0, 0.5, -0.1])
    record = compute_evaluation([0, 1, 1, 0], y_score=logits)
    assert record.score_kind == "logits"
    assert record.inputs["score_kind_source"] == "detected"
    assert record.confusion_matrix == [[2, 0], [0, 2]]
    assert record.metrics["auc"] == 1.0
    expected_loss = -np.mean(np.log(1 / (1 + np.exp(-logits * np.array([-1, 1, 1, -1])))))
    assert record.metrics["log_loss"] == pytest.approx(expected_loss, rel=1e-9)


def test_score_kind_given_is_recorded_and_checked() -> None:
    record = compute_evaluation([0, 1, 2, 0], y_score=PROBS, score_kind="logits")
    assert record.score_kind == "logits"
    assert record.inputs["score_kind_source"] == "given"
    with pytest.raises(ValueError, match="score_kind='probabilities' but y_score rows"):
        compute_evaluation([0, 1, 2], y_score=[[2.0, 1.0, 0.0]] * 3, score_kind="probabilities")
    with pytest.raises(ValueError, match="score_kind must be"):
        compute_evaluation([0, 1], y_score=[0.2, 0.8], score_kind="probs")


def test_rows_in_unit_interval_not_summing_to_one_are_read_as_logits_with_a_warning() -> None:
    scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.9, 0.7], [0.1, 0.3, 0.9]])
    record = compute_evaluation([0, 1, 2], y_score=scores)
    assert record.score_kind == "logits"
    assert any("do not sum to 1" in w for w in record.warnings)


def test_negative_integer_labels_become_their_own_classes() -> None:
    record = compute_evaluation([-1, 1, 1, -1], y_pred=[-1, 1, -1, -1])
    assert record.class_names == ["-1", "1"]
    assert record.confusion_matrix == [[2, 0], [1, 1]]


def test_pandas_inputs() -> None:
    record = compute_evaluation(pd.Series([0, 1, 2, 0]), y_score=pd.DataFrame(PROBS))
    assert record.metrics["accuracy"] == 1.0


def test_multilabel_metrics_match_sklearn() -> None:
    from sklearn.metrics import f1_score, hamming_loss, roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (60, 4))
    y[0] = [1, 1, 1, 1]
    scores = np.clip(y * 0.5 + rng.uniform(0, 0.5, (60, 4)), 0, 1)
    record = compute_evaluation(y, y_score=scores, class_names=list("abcd"))
    assert record.task == "multilabel"
    predicted = (scores >= 0.5).astype(int)
    assert record.metrics["f1_macro"] == f1_score(y, predicted, average="macro")
    samples = f1_score(y, predicted, average="samples", zero_division=0)
    assert record.metrics["f1_samples"] == samples
    assert record.metrics["hamming_loss"] == hamming_loss(y, predicted)
    assert record.metrics["auc_macro"] == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert record.per_class["support"] == y.sum(axis=0).tolist()
    assert record.confusion_matrix is None
    assert len(record.per_class["confusion_matrix"]) == 4
    assert record.inputs["threshold"] == 0.5


def test_labels_only_gives_nulls_with_reasons_for_score_metrics() -> None:
    record = compute_evaluation([0, 1, 2, 0, 1], y_pred=[0, 1, 1, 0, 2])
    assert record.score_kind == "labels"
    assert record.metrics["accuracy"] == 3 / 5
    for name in ("auc_macro", "auc_micro", "average_precision_macro", "log_loss"):
        assert record.metrics[name] is None
        assert "y_score" in record.nulls[name]
    assert record.curves == {}


def test_top_k_only_where_there_are_enough_classes() -> None:
    rng = np.random.default_rng(0)
    few = compute_evaluation(rng.integers(0, 3, 30), y_score=rng.dirichlet(np.ones(3), 30))
    assert "top_3_accuracy" not in few.metrics
    y = np.arange(40) % 8
    scores = rng.dirichlet(np.ones(8), 40)
    many = compute_evaluation(y, y_score=scores)
    top3 = np.mean([y[i] in np.argsort(-scores[i])[:3] for i in range(40)])
    assert many.metrics["top_3_accuracy"] == pytest.approx(top3)
    assert many.metrics["top_5_accuracy"] >= many.metrics["top_3_accuracy"]


# -- bad input --------------------------------------------------------------------------------


def test_lengths_that_differ() -> None:
    with pytest.raises(ValueError, match="y_true has 3 samples but y_score has 4.*same order"):
        compute_evaluation([0, 1, 2], y_score=PROBS)
    with pytest.raises(ValueError, match="y_true has 4 samples but y_pred has 2"):
        compute_evaluation([0, 1, 2, 0], y_pred=[0, 1])


def test_integer_labels_outside_class_names() -> None:
    with pytest.raises(ValueError, match=r"labels outside class_names: 3 \(2 samples\)"):
        compute_evaluation([0, 1, 3, 3], y_pred=[0, 1, 2, 2], class_names=["a", "b", "c"])


def test_label_names_outside_class_names() -> None:
    with pytest.raises(ValueError, match=r"'fish' \(1 sample\).*Pass every class name"):
        compute_evaluation(["cat", "fish", "dog"], y_pred=["cat", "dog", "dog"],
                           class_names=["cat", "dog"])  # fmt: skip


def test_labels_beyond_the_score_columns() -> None:
    with pytest.raises(ValueError, match="labels outside class_names: 5"):
        compute_evaluation([0, 1, 5, 0], y_score=PROBS)


def test_nan_in_scores() -> None:
    scores = PROBS.copy()
    scores[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"y_score has 1 NaN .*first rows: \[2\]"):
        compute_evaluation([0, 1, 2, 0], y_score=scores)


def test_class_names_that_do_not_fit_the_scores() -> None:
    with pytest.raises(ValueError, match="class_names has 2 names but .* 3 columns"):
        compute_evaluation([0, 1, 2, 0], y_score=PROBS, class_names=["a", "b"])


def test_two_dimensional_labels_that_are_not_one_hot() -> None:
    with pytest.raises(ValueError, match="not one-hot"):
        compute_evaluation([[1, 0], [2, 0]], y_pred=[0, 1], task="multiclass")


def test_single_class_in_y_true_gives_null_auc_with_reason() -> None:
    record = compute_evaluation([1, 1, 1], y_score=[0.9, 0.4, 0.8])
    assert record.task == "binary"
    assert record.metrics["accuracy"] == 2 / 3
    assert record.metrics["auc"] is None
    assert record.metrics["auc_macro"] is None
    assert "only positive samples" in record.nulls["auc"]
    assert "undefined" in record.nulls["auc_macro"]


def test_class_missing_from_y_true_in_multiclass() -> None:
    record = compute_evaluation([0, 1, 0, 1], y_score=PROBS)  # class 2 never occurs
    assert record.per_class["auc"][2] is None
    assert record.per_class["auc"][0] is not None
    assert "'2'" in record.nulls["auc_macro"]
    assert record.metrics["auc_macro"] is None
    assert any("no samples in y_true" in w for w in record.warnings)


def test_bad_input_leaves_the_run_usable(tracker: mb.Tracker) -> None:
    run = tracker.start_run("bad-input")
    scores = PROBS.copy()
    scores[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run.evaluate(y_true=[0, 1, 2, 0], y_score=scores)
    with pytest.raises(ValueError, match="pass x"):
        run.evaluate(y=[0, 1, 2, 0])
    with pytest.raises(RuntimeError, match="no model"):
        run.evaluate(np.zeros((4, 2)), [0, 1, 2, 0])
    assert run.status == "running"
    assert tracker.get(run.id).evaluations == {}
    run.log(loss=0.5)
    record = run.evaluate(y_true=[0, 1, 2, 0], y_score=PROBS, plots=False)
    run.finish()
    stored = tracker.get(run.id)
    assert stored.status == "finished"
    assert list(stored.evaluations.values()) == [record]


def test_class_names_default_to_the_runs_data_record(tracker: mb.Tracker) -> None:
    x = np.zeros((4, 2))
    y = np.array([0, 1, 2, 0])
    data = mb.Data("toy", train=(x, y), class_names=["cat", "dog", "bird"])
    run = tracker.start_run(data=data)
    record = run.evaluate(y_true=y, y_score=PROBS, plots=False)
    assert record.class_names == ["cat", "dog", "bird"]
    assert record.inputs["class_names_source"] == "data record"
    # names that do not fit (two names, three score columns) are not used, and that is said
    other = tracker.start_run(data=mb.Data("toy", train=(x, y), class_names=["a", "b"]))
    record = other.evaluate(y_true=y, y_score=PROBS, plots=False)
    assert record.class_names == ["0", "1", "2"]
    assert any("data class_names were not used" in w for w in record.warnings)
    run.finish()
    other.finish()
