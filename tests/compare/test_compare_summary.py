"""The comparison's summary: what a person compares, every row, differences marked."""

from __future__ import annotations

import modelboard as mb
from modelboard.compare import SUMMARY_SECTIONS
from modelboard.records import NetworkRecord, OptimizerRecord


def test_summary_sections_hold_every_row_and_mark_differences(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    comparison = tracker.compare(ids["keras"], ids["torch"])
    a, b = comparison.labels
    assert list(comparison.summary) == list(SUMMARY_SECTIONS)
    network = comparison.summary["network"]
    # stored as "Adam" and "SGD" by an older version: canonical names here
    assert network.loc["optimizer", a] == "adam" and network.loc["optimizer", b] == "sgd"
    assert network.loc["optimizer.learning_rate", a] == 0.001
    assert network.loc["total_params", a] == network.loc["total_params", b] == 121930
    assert not network.loc["total_params", "differs"] and network.loc["optimizer", "differs"]
    assert network.loc["epochs", a] == 3 and network.loc["layers", a] == 8
    data = comparison.summary["data"]
    assert data.loc["name", a] == "digits" and not data.loc["name", "differs"]  # identical: kept
    assert data.loc["train.x_shape", a] == [1437, 28, 28, 1] and data.loc["train.size", b] == 1437
    metrics = comparison.summary["metrics"]
    assert metrics.loc["val_loss.final", a] == 0.45 and metrics.loc["val_loss.best", b] == 0.3
    evaluation = comparison.summary["evaluation"]
    assert evaluation.loc["val.accuracy", b] == 0.91
    assert not any("[" in field for field in evaluation.index)  # no per-class values
    hyper = comparison.summary["hyperparameters"]
    assert hyper.loc["params.batch_size", a] == 32 and hyper.loc["hparams.dropout", a] == 0.3
    assert "environment" not in comparison.summary and "environment" in comparison.sections
    assert set(comparison.to_dict()["summary"]) == set(SUMMARY_SECTIONS)
    assert "[network]" in repr(comparison) and "python" not in repr(comparison)


def test_layer_rows_say_what_differs(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    comparison = tracker.compare(ids["keras"], ids["torch"])
    layers = comparison.layers
    assert layers["difference"][:7].isna().all()
    assert layers["difference"].iloc[7] == "activation: softmax / -"  # Keras softmax, torch none
    assert len(comparison.aligned) == len(layers)
    assert [row[0].canonical_type for row in comparison.aligned][:2] == ["conv2d", "maxpool2d"]


def _run(tracker: mb.Tracker, name: str, optimizers: list[OptimizerRecord]) -> str:
    run = tracker.start_run(name, framework="keras")
    run.set_network(
        NetworkRecord(
            framework="keras",
            architecture="gan",
            optimizer=optimizers[0],
            optimizers=optimizers,
            unknown={"batch_size": "fit was never called"},
        )
    )
    run.finish()
    return run.id


def test_float32_copies_are_the_same_and_several_optimizers_get_a_block_each(
    tracker: mb.Tracker,
) -> None:
    float32_lr = 0.0010000000474974513  # float32(0.001) read back as a Python float
    single = _run(tracker, "one", [OptimizerRecord("adam", learning_rate=float32_lr)])
    gan = _run(
        tracker,
        "gan",
        [
            OptimizerRecord("adam", learning_rate=0.001, key="d_optimizer"),
            OptimizerRecord("adam", learning_rate=0.0003, key="g_optimizer"),
        ],
    )
    again = _run(tracker, "two", [OptimizerRecord("Adam", learning_rate=0.001)])
    same = tracker.compare(single, again).summary["network"]
    assert not same["differs"].any()  # float32 and float64 0.001, "adam" and "Adam"
    network = tracker.compare(single, gan).summary["network"]
    assert network.loc["optimizer[g_optimizer].learning_rate"].iloc[1] == 0.0003
    assert "optimizer[d_optimizer]" in network.index
    assert network.loc["unknown.batch_size"].iloc[0] == "fit was never called"
