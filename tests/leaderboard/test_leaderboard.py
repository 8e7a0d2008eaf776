"""Sorting, filtering, columns and limits over runs from both frameworks, done in SQL."""

from __future__ import annotations

import math

import pytest

from modelboard.leaderboard import FilterError, leaderboard_ids, metric_direction


def names(frame) -> list[str]:  # type: ignore[no-untyped-def]
    return list(frame["name"])


def test_one_row_per_run_with_the_seed_columns(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    frame = tracker.leaderboard()
    assert len(frame) == 5 and set(frame["id"]) == set(ids.values())
    keras = frame.set_index("id").loc[ids["keras"]]
    expected = {
        "data_name": "digits",
        "model_name": "basic_cnn",
        "optimizer": "adam",
        "loss_function": "categorical_crossentropy",
        "batch_size": 32,
        "epochs": 3,
        "num_classes": 10,
        "width": 28,
        "height": 28,
        "channels": 1,
        "train_x_shape": "[1437, 28, 28, 1]",
        "val_y_shape": "[360]",
        "augmentations": "ImageDataGenerator(rotation_range=90)",
        "val_accuracy": 0.86,
        "val_precision_per_class": "[0.86,0.84]",
        "val_recall_per_class": "[0.9,0.8]",
        "total_params": 121930,
        "learning_rate": 0.001,
        "tags.baseline": "yes",
        "params.batch_size": 32,
        "hparams.dropout": 0.3,
        "early_stop": True,
        "data_fingerprint": "f" * 32,
        "best_val_loss": 0.45,
        "loss": 0.3,
    }
    for column, value in expected.items():
        assert keras[column] == value, column
    assert frame.set_index("id").loc[ids["failed"], "gradient_health"] == "vanishing"
    assert frame.set_index("id").loc[ids["torch"], "gradient_health"] == "ok"
    assert frame.set_index("id").loc[ids["failed"], "status"] == "failed"


def test_default_order_is_newest_first(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    assert list(tracker.leaderboard()["id"]) == [
        ids["other"],
        ids["failed"],
        ids["wide"],
        ids["torch"],
        ids["keras"],
    ]


def test_higher_is_better_metric_sorts_descending(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    frame = tracker.leaderboard(sort="val_accuracy", columns=["id", "val_accuracy"])
    # evaluation values (0.91, 0.86) win over the last logged value; the wide run has only that
    assert list(frame["val_accuracy"][:3]) == [0.91, 0.86, 0.8]
    assert frame["val_accuracy"][3:].isna().all()  # missing values last


def test_lower_is_better_metric_sorts_ascending(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    frame = tracker.leaderboard(sort="val_loss", columns="id,val_loss")
    assert list(frame["id"][:3]) == [ids["keras"], ids["torch"], ids["wide"]]
    best = tracker.leaderboard(sort="best_val_loss", columns="id,best_val_loss")
    assert list(best["best_val_loss"][:3]) == [0.3, 0.45, 0.7]
    assert list(tracker.leaderboard(sort="best_val_accuracy", limit=1)["id"]) == [ids["torch"]]


def test_ascending_and_direction_overrides(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    up = tracker.leaderboard(sort="val_accuracy", ascending=True, limit=3)
    assert list(up["id"]) == [ids["wide"], ids["keras"], ids["torch"]]
    assert list(tracker.leaderboard(sort="-val_loss", limit=1)["id"]) == [ids["wide"]]
    flipped = tracker.leaderboard(sort="val_loss", directions={"val_loss": "max"}, limit=1)
    assert list(flipped["id"]) == [ids["wide"]]
    assert metric_direction("val_loss") == "min" and metric_direction("val_accuracy") == "max"
    assert metric_direction("accuracy", {"accuracy": "min"}) == "min"


def test_sort_by_run_and_text_columns(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    assert names(tracker.leaderboard(sort="name", columns="name")) == [
        "basic_cnn",
        "basic_cnn",
        "basic_cnn_wide",
        "notes",
        "unstable",
    ]
    assert list(tracker.leaderboard(sort="created", limit=1)["id"]) == [ids["other"]]
    assert list(tracker.leaderboard(sort="+created", limit=1)["id"]) == [ids["keras"]]
    by_batch = tracker.leaderboard(sort="batch_size", ascending=False, columns="id,batch_size")
    assert list(by_batch["batch_size"]) == [128, 64, 32, 16, 8]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("framework = 'torch'", {"torch", "failed"}),
        ("framework == 'keras'", {"keras", "wide"}),
        ("framework != 'torch'", {"keras", "wide", "other"}),
        ("framework <> 'torch'", {"keras", "wide", "other"}),
        ("val_accuracy > 0.85", {"keras", "torch"}),
        ("val_accuracy >= 0.86", {"keras", "torch"}),
        ("val_accuracy < 0.86", {"wide"}),
        ("val_accuracy <= 0.86", {"keras", "wide"}),
        ("0.9 < val_accuracy", {"torch"}),
        ("framework = 'torch' and val_accuracy > 0.9 or tags.baseline = 'yes'", {"torch", "keras"}),
        ("framework = 'torch' and (val_accuracy > 0.9 or tags.baseline = 'yes')", {"torch"}),
        ("not framework = 'keras'", {"torch", "failed", "other"}),
        ("not (batch_size < 64)", {"torch", "wide"}),
        ("batch_size in (8, 16)", {"failed", "other"}),
        ("optimizer in ('adam', 'sgd')", {"keras", "torch", "wide"}),
        ("optimizer not in ('adam')", {"torch", "failed", "other"}),
        ("model_name like 'basic%'", {"keras", "torch", "wide"}),  # ignores case
        ("model_name like '%wide'", {"wide"}),
        ("name not like '%cnn%'", {"failed", "other"}),
        ("features contains 'label_leak'", {"wide"}),
        ("features contains 'pixel_0' and not features contains 'label_leak'", {"keras", "torch"}),
        ("fingerprints contains 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'", {"keras", "torch", "wide"}),
        ("data_fingerprint = 'cccccccccccccccccccccccccccccccc'", {"wide"}),
        ("augmentations contains 'ImageDataGenerator'", {"keras", "torch", "wide"}),
        ("name contains 'wide'", {"wide"}),
        ("val_accuracy is null", {"failed", "other"}),
        ("data_name is not null", {"keras", "torch", "wide"}),
        ("status = 'failed'", {"failed"}),
        ("project = 'other'", {"other"}),
        ("early_stop = true", {"keras", "wide"}),
        ("gradient_health = 'vanishing'", {"failed"}),
        ("params.lr = 0.01", {"torch"}),
        ("network.optimizer = 'SGD'", {"torch"}),
        ("best_val_loss < 0.4", {"torch"}),
        ("created > '2000-01-01' and duration >= 0", {"keras", "torch", "wide", "failed", "other"}),
        ("total_params > 122000", {"wide"}),
        ("eval.val_accuracy > 0", {"keras", "torch"}),
        ("last.val_accuracy > 0.85", {"torch"}),
    ],
)
def test_filter_operators(sample, where: str, expected: set[str]) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    by_id = {v: k for k, v in ids.items()}
    assert {by_id[i] for i in tracker.leaderboard(where=where)["id"]} == expected


def test_filter_values_are_bound_parameters(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    assert tracker.leaderboard(where="name = 'x''; drop table runs; --'").empty
    assert len(tracker.leaderboard()) == 5


@pytest.mark.parametrize(
    ("where", "position", "fragment"),
    [
        ("val_accuracy > 0.9 and val_acc > 1", 23, "unknown column 'val_acc'"),
        ("framework > 3 and name like 5", 28, "quoted pattern"),
        ("duration = 'long'", 11, "holds numbers"),
        ("created > 'yesterday'", 10, "not a date"),
        ("batch_size in (1, 'a')", 15, "all be numbers or all be text"),
    ],
)
def test_bad_filters_point_at_the_position(sample, where, position, fragment) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    with pytest.raises(FilterError) as info:
        tracker.leaderboard(where=where)
    assert info.value.position == position, str(info.value)
    assert fragment in str(info.value)


def test_unknown_sort_or_column_is_an_error(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    with pytest.raises(FilterError, match="unknown column 'nope'"):
        tracker.leaderboard(sort="nope")
    with pytest.raises(FilterError, match="unknown column 'nope'"):
        tracker.leaderboard(columns=["name", "nope"])


def test_columns_project_and_limit(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    frame = tracker.leaderboard(
        columns=["name", "val_accuracy", "params.lr"], limit=2, sort="val_accuracy"
    )
    assert list(frame.columns) == ["name", "val_accuracy", "params.lr"]
    assert len(frame) == 2 and frame["params.lr"].iloc[0] == 0.01
    other = tracker.leaderboard(project="other")
    assert list(other["id"]) == [ids["other"]]
    assert len(tracker.leaderboard(project="default", sort="val_accuracy", limit=10)) == 4


def test_limit_keeps_runs_without_the_sort_value(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    frame = tracker.leaderboard(sort="best_accuracy", limit=3, columns="id,best_accuracy")
    assert frame["id"].iloc[0] == ids["keras"]
    assert len(frame) == 3 and frame["best_accuracy"][1:].isna().all()
    assert leaderboard_ids(tracker.store, sort="val_accuracy", limit=2) == [
        ids["torch"],
        ids["keras"],
    ]


def test_nan_metrics_read_back_as_nan(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    frame = tracker.leaderboard(where=f"id = '{ids['failed']}'", columns="loss,best_loss")
    assert math.isnan(frame["loss"].iloc[0]) and frame["best_loss"].iloc[0] == 2.0


def test_run_ids_by_unique_prefix(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    assert tracker.get(ids["torch"][:6]).id == ids["torch"]
    assert tracker.store.resolve_run_id(ids["wide"][:10].upper()) == ids["wide"]
    prefix = ids["keras"][:4]
    assert list(tracker.leaderboard(where=f"id like '{prefix}%'")["id"]) == [ids["keras"]]


@pytest.mark.parametrize(
    ("sort", "where"),
    [
        ("val_accuracy", None),  # evaluation value, else the last logged value
        ("val_accuracy", "framework = 'keras' or batch_size > 32"),
        ("-val_loss", "not name like '%wide%'"),
        ("learning_rate", None),  # four places: params.learning_rate, params.lr, network...
        ("best_loss", "status != 'running'"),
        ("batch_size", "batch_size in (8, 16, 32, 64, 128)"),
    ],
)
@pytest.mark.parametrize("limit", [1, 2, 3, 4])
def test_top_n_windows_match_the_full_sort(sample, monkeypatch, sort, where, limit) -> None:  # type: ignore[no-untyped-def]
    """Top-N reads candidates from the value index in growing windows; force tiny windows."""
    from modelboard.store import query as _query

    tracker, _ = sample
    full = leaderboard_ids(tracker.store, sort=sort, where=where)  # no limit: one plain sort
    monkeypatch.setattr(_query, "_FIRST_WINDOW", 1)
    assert leaderboard_ids(tracker.store, sort=sort, where=where, limit=limit) == full[:limit]
