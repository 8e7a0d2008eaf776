"""A record document queued on the run writer is prepared once (its JSON text and its
``run_values`` rows) and stored as it was when queued: what the store holds is exactly what
``SQLStore.put_record`` stores for that record, on SQLite and PostgreSQL, and changes made to
the record after queueing never leak into the queued version."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

import modelboard as mb
from modelboard.records import (
    AugmentationRecord,
    DataRecord,
    LayerRecord,
    NetworkRecord,
    OptimizerRecord,
    SplitRecord,
)
from modelboard.store import tables
from modelboard.store.documents import PreparedDocument


def _network() -> NetworkRecord:
    """A network record with the awkward values records meet: numpy scalars, tuples, NaN,
    non-string keys, sets and nested records."""
    layers = [
        LayerRecord(path="conv", type="Conv2d", canonical_type="conv2d",
                    config={"kernel_size": (3, 3), "scale": np.float32(0.5)},
                    output_shape=[None, 8, 6, 6], trainable_params=80),
        LayerRecord(path="head", type="Linear", canonical_type="dense",
                    config={"bias": True, "groups": {1, 2}}, trainable_params=90),
    ]  # fmt: skip
    adam = OptimizerRecord(name="adam", learning_rate=1e-3, class_name="Adam",
                           config={"betas": (0.9, 0.999), "eps": 1e-8})  # fmt: skip
    return NetworkRecord(
        framework="pytorch",
        architecture="Sequential",
        layers=layers,
        total_params=np.int64(170),  # type: ignore[arg-type]
        trainable_params=170,
        signature="abc123",
        input_shape=[None, 1, 8, 8],
        optimizer=adam,
        optimizers=[adam],
        loss="cross_entropy",
        batch_size=32,
        hyperparameters={
            "dropout": np.float64(0.25),
            "widths": (8, 16),
            "gamma": math.nan,
            "table": {1: "a", 2: "b"},
            "name": "basic",
            "flag": True,
        },  # fmt: skip
        unknown={"epochs_planned": "not told", "steps_per_epoch": "not told"},
    )


def _data() -> DataRecord:
    split = SplitRecord(name="train", size=100, x_shape=[100, 8, 8], fingerprint="f-train")
    return DataRecord(
        name="digits",
        splits={"train": split},
        features=["a", "b"],
        num_classes=10,
        fingerprint="f-all",
        augmentations=[AugmentationRecord(source="torchvision", type="flip", params={"p": 0.5})],
    )


def _stored(tracker: mb.Tracker, run_id: str) -> tuple[dict[str, str], set[tuple[Any, ...]]]:
    r, rv = tables.records, tables.run_values
    with tracker.store.engine.connect() as conn:
        payloads = dict(
            conn.execute(select(r.c.kind, r.c.payload).where(r.c.run_id == run_id)).all()
        )
        values = conn.execute(
            select(rv.c.kind, rv.c.name, rv.c.value_num, rv.c.value_text).where(
                rv.c.run_id == run_id, rv.c.kind.not_in(["param", "tag", "run"])
            )
        ).all()
    return payloads, {tuple(row) for row in values}


def test_prepared_documents_store_what_put_record_stores(any_store: str, tmp_path: Path) -> None:
    with mb.Tracker(any_store, artifact_root=tmp_path / "a", announce=False) as tracker:
        direct = tracker.start_run("put_record")
        queued = tracker.start_run("prepared")
        records = {"network": _network(), "data": _data()}
        for kind, record in records.items():
            tracker.store.put_record(direct.id, kind, record)
        documents = {k: PreparedDocument.of(queued.id, k, rec) for k, rec in records.items()}
        tracker.store.write_prepared(queued.id, documents=documents)
        want_payloads, want_values = _stored(tracker, direct.id)
        got_payloads, got_values = _stored(tracker, queued.id)
        assert got_payloads == want_payloads
        assert got_values == want_values
        assert ("hparam", "dropout", 0.25, None) in got_values
        assert ("network", "total_params", 170.0, None) in got_values
        assert ("data", "num_classes", 10.0, None) in got_values
        stored = tracker.get(queued.id)
        assert stored.network == records["network"]  # equal JSON: nothing lost on the way
        assert stored.data == records["data"]
        direct.finish()
        queued.finish()


def test_a_queued_document_does_not_see_later_changes(tmp_path: Path) -> None:
    with mb.Tracker(tmp_path / "store", announce=False) as tracker:
        run = tracker.start_run("queued")
        network = _network()
        run.set_network(network)  # queued on the writer, not yet written
        network.epochs_run = 7
        network.hyperparameters["dropout"] = 0.75
        network.layers.append(LayerRecord(path="extra", type="ReLU", canonical_type="relu"))
        run.flush()
        stored = tracker.get(run.id).network
        assert stored is not None
        assert stored.epochs_run == 0
        assert stored.hyperparameters["dropout"] == 0.25
        assert [layer.path for layer in stored.layers] == ["conv", "head"]
        payloads, values = _stored(tracker, run.id)
        assert ("network", "epochs_run", 0.0, None) in values
        assert ("hparam", "dropout", 0.25, None) in values
        run.update_network(epochs_run=3)  # a later update is queued in its turn
        run.finish()
        stored = tracker.get(run.id).network
        assert stored is not None and stored.epochs_run == 3
        assert stored.hyperparameters["dropout"] == 0.75


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "x"}
    for _ in range(levels):
        value = {"next": value}
    return value


def test_record_json_is_the_text_of_to_json() -> None:
    from modelboard.records import GradientRecord, ParameterGradientStats, RunRecord
    from modelboard.store.documents import record_json

    gradient = GradientRecord(
        step=3,
        epoch=None,
        wall_time=1.5,
        global_norm=math.inf,
        applied_global_norm=math.nan,
        clipped=True,
        parameters=[
            ParameterGradientStats(name="w", shape=[2, 3], l2_norm=0.5, mean=-0.0, std=math.nan,
                                   max_abs=-math.inf, nonfinite_count=2, update_ratio=None),
            ParameterGradientStats(name="b", shape=[], l2_norm=1e-300, weight_norm=0.0),
        ],
        flags={"nonfinite": True, "$odd": False},
    )  # fmt: skip
    network = _network()
    network.hyperparameters.update(deep=_deep(120), numbers=np.arange(3), when=Path("/tmp/x"))
    run = RunRecord(id="a" * 32, name="r", params={"lr": np.float32(0.1), 1: "int key"})
    for record in (gradient, network, _data(), run, _network()):
        assert record_json(record) == record.to_json()
