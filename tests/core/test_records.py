"""Records: schema versions, JSON round-trips, content equality."""

from __future__ import annotations

import numpy as np
import pytest

import modelboard as mb
from modelboard.records import (
    AugmentationRecord,
    DataRecord,
    EvaluationRecord,
    GradientRecord,
    LayerRecord,
    MetricSeries,
    NetworkRecord,
    OptimizerRecord,
    ParameterGradientStats,
    RunRecord,
    SplitRecord,
    TrainingRecord,
)


def sample_records() -> list:
    """One filled record of every type (nested records included)."""
    layer = LayerRecord(
        path="conv1",
        type="Conv2D",
        canonical_type="conv2d",
        config={"filters": 32, "kernel_size": (3, 3)},
        canonical_config={"filters": 32, "kernel_size": [3, 3]},
        output_shape=[None, 8, 8, 32],
        trainable_params=320,
    )
    return [
        RunRecord(
            id="a" * 32,
            name="r",
            tags={"k": "v"},
            params={"lr": np.float64(0.1)},
            environment={"packages": {"numpy": np.__version__}},
            flags={"x": True},
        ),
        DataRecord(
            name="digits",
            splits={
                "train": SplitRecord(
                    name="train", size=3, x_shape=[3, 8, 8], class_counts={"0": 1, "1": 2}
                )
            },
            augmentations=[
                AugmentationRecord(source="user", type="params", params={"rotation_range": 10.0})
            ],
            image={"width": 8, "height": 8, "channels": 1},
        ),
        NetworkRecord(
            framework="keras",
            architecture="basic_cnn",
            layers=[layer],
            total_params=320,
            optimizer=OptimizerRecord(name="Adam", learning_rate=1e-3),
            loss="categorical_crossentropy",
            early_stopping={"patience": 3},
        ),
        TrainingRecord(
            metrics={
                "loss": MetricSeries(
                    steps=[0, 1], epochs=[0, 1], values=[1.0, float("nan")], wall_times=[1.0, 2.0]
                )
            }
        ),
        GradientRecord(
            step=5,
            parameters=[ParameterGradientStats(name="w", shape=[2, 2], l2_norm=float("inf"))],
            flags={"nonfinite": True},
        ),
        EvaluationRecord(
            split="val",
            task="multiclass",
            metrics={"accuracy": 0.5, "auc": None},
            per_class={"precision": [0.5, float("nan")]},
            confusion_matrix=[[1, 0], [1, 0]],
            nulls={"auc": "one class"},
        ),
    ]


@pytest.mark.parametrize("record", sample_records(), ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_json(record) -> None:
    data = record.to_dict()
    assert data["schema_version"] == type(record).SCHEMA_VERSION
    back = type(record).from_json(record.to_json())
    assert back == record
    assert back.to_json() == record.to_json()


def test_nested_records_are_rebuilt_as_records() -> None:
    network = sample_records()[2]
    back = NetworkRecord.from_json(network.to_json())
    assert isinstance(back.layers[0], LayerRecord)
    assert isinstance(back.optimizer, OptimizerRecord)
    data = DataRecord.from_json(sample_records()[1].to_json())
    assert isinstance(data.splits["train"], SplitRecord)
    assert isinstance(data.augmentations[0], AugmentationRecord)


def test_records_differ_when_a_value_differs() -> None:
    a = sample_records()[2]
    b = NetworkRecord.from_json(a.to_json())
    b.layers[0].trainable_params = 321
    assert a != b


def test_a_record_from_a_newer_schema_is_refused_clearly() -> None:
    data = sample_records()[0].to_dict()
    data["schema_version"] = RunRecord.SCHEMA_VERSION + 1
    with pytest.raises(mb.StoreVersionError, match="upgrade modelboard"):
        RunRecord.from_dict(data)


def test_unknown_fields_from_a_newer_writer_are_ignored() -> None:
    data = sample_records()[0].to_dict()
    data["field_of_the_future"] = 1
    assert RunRecord.from_dict(data) == sample_records()[0]
