"""Data and network records become run_values rows, replaced when the record changes."""

from __future__ import annotations

from pathlib import Path

from sample_runs import build_store, digits_data, keras_basic_cnn
from sqlalchemy import select

from modelboard.store import tables
from modelboard.store.run_values import data_record_rows, network_record_rows, rebuild_run_values


def _values(tracker, run_id: str) -> dict[tuple[str, str], tuple]:  # type: ignore[no-untyped-def]
    rv = tables.run_values
    with tracker.store.engine.connect() as conn:
        rows = conn.execute(
            select(rv.c.kind, rv.c.name, rv.c.value_num, rv.c.value_text).where(
                rv.c.run_id == run_id
            )
        ).all()
    return {(k, n): (num, text) for k, n, num, text in rows}


def test_rows_of_a_data_and_a_network_record() -> None:
    data = {(k, n): (num, txt) for _, k, n, num, txt in data_record_rows("r", digits_data())}
    assert data[("data", "name")] == (None, "digits")
    assert data[("data", "train_x_shape")] == (None, "[1437, 28, 28, 1]")
    assert data[("data", "width")] == (28.0, None)
    assert ("feature", "pixel_3") in data and ("fingerprint", "a" * 32) in data
    assert data[("fingerprint", "f" * 32)] == (None, "data")
    assert ("augmentation", "ImageDataGenerator") in data
    network = {(k, n): (num, t) for _, k, n, num, t in network_record_rows("r", keras_basic_cnn())}
    assert network[("network", "total_params")] == (121930.0, None)
    assert network[("network", "optimizer")] == (None, "adam")  # the class name, canonical
    assert network[("network", "early_stopping")] == (1.0, "true")
    assert network[("hparam", "dropout")] == (0.3, None)


def test_put_record_replaces_the_rows(tmp_path: Path) -> None:
    tracker, ids = build_store(tmp_path)
    run_id = ids["wide"]
    assert ("feature", "label_leak") in _values(tracker, run_id)
    tracker.store.put_record(run_id, "data", digits_data(["a"]))
    after = _values(tracker, run_id)
    assert ("feature", "label_leak") not in after and ("feature", "a") in after
    assert ("network", "architecture") in after  # other kinds untouched
    before = _values(tracker, run_id)
    with tracker.store.engine.begin() as conn:
        rebuild_run_values(conn, [run_id])
    rebuilt = _values(tracker, run_id)
    assert {k for k in before if k[0] != "eval"} == {k for k in rebuilt if k[0] != "eval"}
    tracker.close()
