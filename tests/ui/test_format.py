"""Human formats and figures, without a browser."""

from __future__ import annotations

from modelboard.records import EvaluationRecord, MetricSeries, TrainingRecord
from modelboard.ui import charts
from modelboard.ui.format import format_duration, format_number, format_value


def test_numbers_dates_and_durations_read_as_people_write_them() -> None:
    assert format_number(0.123456789) == "0.1235"
    assert format_number(12345.678) == "1.235e+04"
    assert format_number(7) == "7"
    assert format_number(float("nan")) == "NaN"
    assert format_duration(4.25) == "4.2 s"
    assert format_duration(185) == "3 min 05 s"
    assert format_duration(7620) == "2 h 07 min"
    assert format_value("created", 0.0) == "1970-01-01 00:00:00"


def test_per_class_lists_become_escaped_sparklines() -> None:
    cell = str(format_value("val_precision_per_class", "[0.5, 1.0, 0.25]"))
    assert cell.startswith("<svg") and cell.count("<rect") == 3
    assert "0.5, 1, 0.25" in cell  # the values, as the tooltip
    assert format_value("name", "<b>x</b>") == "<b>x</b>"  # plain text: the template escapes it


def test_train_and_val_share_a_figure_and_nan_leaves_a_gap() -> None:
    training = TrainingRecord(
        metrics={
            "loss": MetricSeries([0, 1], [0, 1], [1.0, float("nan")], [0.0, 1.0]),
            "val_loss": MetricSeries([0, 1], [0, 1], [1.5, 1.2], [0.0, 1.0]),
            "lr": MetricSeries([0, 1], [0, 1], [0.1, 0.01], [0.0, 1.0]),
        }
    )
    figures = charts.curve_figures(training)
    assert list(figures) == ["loss"]
    assert [t["name"] for t in figures["loss"]["data"]] == ["loss", "val_loss"]
    assert figures["loss"]["data"][0]["y"] == [1.0, None]
    lr = charts.learning_rate_figure(training)
    assert lr is not None and lr["data"][0]["y"] == [0.1, 0.01]


def test_evaluation_figures_follow_the_record() -> None:
    record = EvaluationRecord(
        split="val",
        task="binary",
        class_names=["cat", "dog"],
        confusion_matrix=[[3, 1], [0, 4]],
        per_class={"precision": [1.0, 0.8], "recall": [0.75, 1.0], "f1": [0.857, 0.889]},
        curves={"roc": {"per_class": [{"fpr": [0, 1], "tpr": [0, 1]}], "micro": {}}},
    )
    figures = charts.evaluation_figures(record)
    assert figures["confusion"]["data"][0]["z"] == [[3, 1], [0, 4]]
    assert figures["confusion"]["data"][0]["x"] == ["cat", "dog"]
    assert [t["name"] for t in figures["per_class"]["data"]] == ["precision", "recall", "f1"]
    assert [t["name"] for t in figures["roc"]["data"]] == ["class cat"]
    assert "pr" not in figures


def test_shapes_and_other_number_lists_stay_text() -> None:
    from modelboard.ui.format import format_value

    assert format_value("splits.train.x_shape", [None, 8, 8, 1]) == "(None, 8, 8, 1)"
    assert format_value("train_x_shape", "[null, 8, 8, 1]") == "(None, 8, 8, 1)"
    assert format_value("input_shape", [[None, 28], [None, 10]]) == "[(None, 28), (None, 10)]"
    assert format_value("layers[0].canonical_config.dilation", [1, 1]) == "[1, 1]"
    assert "<svg" in str(format_value("val.recall", [0.5, 1.0]))  # per class: a sparkline
