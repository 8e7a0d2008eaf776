"""Hand-checked fixtures: every expected number is worked out in the comments, not by sklearn."""

from __future__ import annotations

import math

import numpy as np
import pytest

import modelboard as mb
from modelboard.evaluation import compute_evaluation
from modelboard.records import EvaluationRecord

CLASS_NAMES = ["cat", "dog", "bird"]

# Seven samples, three classes. Each row of probabilities sums to 1; the prediction is its argmax.
#   sample  true   p(cat) p(dog) p(bird)  predicted
#   s0      cat    0.80   0.10   0.10     cat
#   s1      cat    0.60   0.25   0.15     cat
#   s2      cat    0.30   0.50   0.20     dog
#   s3      dog    0.20   0.70   0.10     dog
#   s4      dog    0.10   0.30   0.60     bird
#   s5      bird   0.10   0.20   0.70     bird
#   s6      bird   0.35   0.40   0.25     dog
Y_TRUE = [0, 0, 0, 1, 1, 2, 2]
PROBS = [
    [0.80, 0.10, 0.10],
    [0.60, 0.25, 0.15],
    [0.30, 0.50, 0.20],
    [0.20, 0.70, 0.10],
    [0.10, 0.30, 0.60],
    [0.10, 0.20, 0.70],
    [0.35, 0.40, 0.25],
]

# Confusion matrix, rows = true class, columns = predicted class:
#   true cat : s0->cat, s1->cat, s2->dog    -> [2, 1, 0]
#   true dog : s3->dog, s4->bird            -> [0, 1, 1]
#   true bird: s5->bird, s6->dog            -> [0, 1, 1]
# Its transpose (the seed prototype's mistake) would be [[2, 0, 0], [1, 1, 1], [0, 1, 1]].
EXPECTED_CONFUSION = [[2, 1, 0], [0, 1, 1], [0, 1, 1]]

# Precision = correct / predicted as the class (column sums 2, 3, 2):
#   cat 2/2, dog 1/3 (s2, s3, s6 predicted dog; only s3 is a dog), bird 1/2 (s4, s5; s5 right)
EXPECTED_PRECISION = [2 / 2, 1 / 3, 1 / 2]
# Recall = correct / true members of the class (row sums 3, 2, 2): cat 2/3, dog 1/2, bird 1/2
EXPECTED_RECALL = [2 / 3, 1 / 2, 1 / 2]
EXPECTED_SUPPORT = [3, 2, 2]

# One-vs-rest ROC AUC = share of (positive, negative) pairs in which the positive sample has the
# higher score for that class (no ties in this fixture).
#   cat : positives 0.80, 0.60, 0.30; negatives 0.20, 0.10, 0.10, 0.35 -> 12 pairs
#         0.80 beats 4, 0.60 beats 4, 0.30 beats 3 (loses to 0.35)       -> 11/12
#   dog : positives 0.70, 0.30; negatives 0.10, 0.25, 0.50, 0.20, 0.40   -> 10 pairs
#         0.70 beats 5, 0.30 beats 3 (0.10, 0.25, 0.20)                   -> 8/10
#   bird: positives 0.70, 0.25; negatives 0.10, 0.15, 0.20, 0.10, 0.60   -> 10 pairs
#         0.70 beats 5, 0.25 beats 4 (loses to 0.60)                      -> 9/10
EXPECTED_AUC = [11 / 12, 8 / 10, 9 / 10]
# macro = (11/12 + 8/10 + 9/10) / 3 = (55/60 + 48/60 + 54/60) / 3 = 157/180
EXPECTED_AUC_MACRO = 157 / 180


def _check_fixture(record: EvaluationRecord) -> None:
    assert record.task == "multiclass"
    assert record.class_names == CLASS_NAMES
    assert record.confusion_matrix == EXPECTED_CONFUSION
    per_class = record.per_class
    assert per_class["precision"] == EXPECTED_PRECISION
    assert per_class["recall"] == EXPECTED_RECALL
    assert per_class["support"] == EXPECTED_SUPPORT
    assert per_class["auc"] == EXPECTED_AUC
    metrics = record.metrics
    assert metrics["auc_macro"] == EXPECTED_AUC_MACRO
    # accuracy: s0, s1, s3, s5 right -> 4/7; balanced accuracy = mean recall = (2/3+1/2+1/2)/3
    assert metrics["accuracy"] == 4 / 7
    assert metrics["balanced_accuracy"] == pytest.approx(5 / 9, abs=1e-15)
    # macro precision = (1 + 1/3 + 1/2) / 3 = 11/18; macro recall = 5/9
    assert metrics["precision_macro"] == pytest.approx(11 / 18, abs=1e-15)
    assert metrics["recall_macro"] == pytest.approx(5 / 9, abs=1e-15)
    # micro precision = micro recall = accuracy for one label per sample
    assert metrics["precision_micro"] == metrics["recall_micro"] == 4 / 7
    # log loss = -mean(log p(true class)) over the seven samples
    log_loss = -(
        math.log(0.8) + math.log(0.6) + math.log(0.3) + math.log(0.7) + math.log(0.3)
        + math.log(0.7) + math.log(0.25)
    ) / 7  # fmt: skip
    assert metrics["log_loss"] == pytest.approx(log_loss, rel=1e-12)
    assert record.nulls == {}


def test_three_class_fixture_matches_hand_computed_values() -> None:
    record = compute_evaluation(Y_TRUE, y_score=PROBS, class_names=CLASS_NAMES)
    _check_fixture(record)
    assert record.score_kind == "probabilities"
    assert record.inputs["score_kind_source"] == "detected"
    assert record.inputs["label_format"] == "integer"


def test_rows_are_the_true_class_not_the_predicted_one() -> None:
    record = compute_evaluation(Y_TRUE, y_score=PROBS, class_names=CLASS_NAMES)
    matrix = np.array(record.confusion_matrix)
    # each row sums to that class's number of true samples, each column to its predictions
    assert matrix.sum(axis=1).tolist() == [3, 2, 2]
    assert matrix.sum(axis=0).tolist() == [2, 3, 2]
    assert matrix.T.tolist() != EXPECTED_CONFUSION


def test_same_results_from_one_hot_labels_and_logits() -> None:
    one_hot = np.eye(3)[Y_TRUE]
    logits = np.log(np.array(PROBS)) + 3.0  # softmax(log p + c) = p
    record = compute_evaluation(one_hot, y_score=logits, class_names=CLASS_NAMES)
    assert record.inputs["label_format"] == "one_hot"
    assert record.score_kind == "logits"
    assert record.inputs["score_kind_source"] == "detected"
    assert record.confusion_matrix == EXPECTED_CONFUSION
    assert record.per_class["precision"] == EXPECTED_PRECISION
    assert record.per_class["recall"] == EXPECTED_RECALL
    assert record.per_class["auc"] == pytest.approx(EXPECTED_AUC, abs=1e-15)
    assert record.metrics["auc_macro"] == pytest.approx(EXPECTED_AUC_MACRO, abs=1e-15)


def test_label_names_as_y_true() -> None:
    names = np.array(CLASS_NAMES)[Y_TRUE]
    record = compute_evaluation(names, y_score=PROBS, class_names=CLASS_NAMES)
    assert record.inputs["label_format"] == "names"
    _check_fixture(record)


def test_run_evaluate_stores_the_hand_checked_record(tracker: mb.Tracker) -> None:
    run = tracker.start_run("hand-checked")
    record = run.evaluate(y_true=Y_TRUE, y_score=PROBS, class_names=CLASS_NAMES, plots=False)
    _check_fixture(record)
    run.finish()
    stored = tracker.get(run.id).evaluations
    assert list(stored) == ["val"]
    assert stored["val"] == record
    _check_fixture(stored["val"])


def test_binary_fixture() -> None:
    # labels 0 1 1 0 1, positive-class probabilities 0.2 0.9 0.4 0.6 0.7 -> predicted 0 1 0 1 1
    # confusion: true 0 -> [1 (s0), 1 (s3)], true 1 -> [1 (s2), 2 (s1, s4)]
    # AUC: positives 0.9 0.4 0.7 vs negatives 0.2 0.6: 0.9 beats 2, 0.4 beats 1, 0.7 beats 2 -> 5/6
    record = compute_evaluation([0, 1, 1, 0, 1], y_score=[0.2, 0.9, 0.4, 0.6, 0.7])
    assert record.task == "binary"
    assert record.confusion_matrix == [[1, 1], [1, 2]]
    assert record.metrics["auc"] == pytest.approx(5 / 6, abs=1e-15)  # trapezoids in floats
    # precision of class 1: 2 right of 3 predicted; recall: 2 of 3
    assert record.per_class["precision"][1] == 2 / 3
    assert record.per_class["recall"][1] == 2 / 3
    # class 0: precision 1/2 (s0 right, s2 wrong), recall 1/2
    assert record.per_class["precision"][0] == 1 / 2
    assert record.metrics["accuracy"] == 3 / 5


def test_regression_fixture() -> None:
    # errors: 1.1-1.0 = 0.1, 2.0-2.5 = -0.5, 3.5-3.0 = 0.5, 4.0-4.0 = 0
    y_true = [1.0, 2.5, 3.0, 4.0]
    y_pred = [1.1, 2.0, 3.5, 4.0]
    record = compute_evaluation(y_true, y_pred=y_pred)
    assert record.task == "regression"
    mae = (0.1 + 0.5 + 0.5 + 0.0) / 4  # 0.275
    mse = (0.01 + 0.25 + 0.25 + 0.0) / 4  # 0.1275
    # R² = 1 - SSE / SST; mean of y_true = 10.5 / 4 = 2.625
    sst = (1.625**2) + (0.125**2) + (0.375**2) + (1.375**2)  # 4.6875
    assert record.metrics["mae"] == pytest.approx(mae, abs=1e-12)
    assert record.metrics["rmse"] == pytest.approx(math.sqrt(mse), abs=1e-12)
    assert record.metrics["r2"] == pytest.approx(1 - 0.51 / sst, abs=1e-12)
    assert record.metrics["max_error"] == pytest.approx(0.5, abs=1e-12)
    assert record.confusion_matrix is None
