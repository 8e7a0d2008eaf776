"""One vocabulary in the leaderboard: canonical optimizer names, the initial and the last
learning rate, epochs run and planned, enum-like columns compared without case; on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_databases import new_pg_database

import modelboard as mb
from modelboard.records import NetworkRecord, OptimizerRecord
from modelboard.store.columns import ENUM_COLUMNS


def _network(framework: str, optimizer: OptimizerRecord, **fields: object) -> NetworkRecord:
    return NetworkRecord(
        framework=framework,
        architecture=fields.pop("architecture", "Net"),  # type: ignore[arg-type]
        optimizer=optimizer,
        optimizers=[optimizer],
        **fields,  # type: ignore[arg-type]
    )


def _build(tracker: mb.Tracker) -> dict[str, str]:
    ids = {}
    # a record written by an older version: the class name in ``name``, the last lr in it too
    run = tracker.start_run("old_torch", framework="torch")
    run.set_network(_network("torch", OptimizerRecord("Adam", learning_rate=0.001), epochs_run=2))
    run.finish()
    ids["old_torch"] = run.id
    run = tracker.start_run("torch_steplr", framework="torch", hparams={"epochs": 4})
    record = OptimizerRecord(
        "adadelta", learning_rate=1.0, class_name="Adadelta", learning_rate_last=0.49
    )
    run.set_network(_network("torch", record, epochs_run=4, loss="CrossEntropyLoss"))
    run.finish()
    ids["torch_steplr"] = run.id
    run = tracker.start_run("keras_early", framework="keras")
    record = OptimizerRecord(
        "adam", learning_rate=0.01, class_name="Adam", learning_rate_last=0.00125
    )
    network = _network(
        "keras", record, epochs_planned=30, epochs_run=5, loss="categorical_crossentropy"
    )
    run.set_network(network)
    run.finish()
    ids["keras_early"] = run.id
    run = tracker.start_run("keras_sgd", framework="keras", hparams={"learning_rate": 0.5})
    run.set_network(
        _network(
            "keras",
            OptimizerRecord("sgd", learning_rate=0.1, class_name="SGD"),
            architecture="MyCNN",
        )
    )
    run.finish("failed")
    ids["keras_sgd"] = run.id
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def vocab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder: Path = tmp_path_factory.mktemp("vocab")
    if request.param == "sqlite":
        with mb.Tracker(folder / "store", plugin_manager=mb.create_plugin_manager()) as tracker:
            yield tracker, _build(tracker)
        return
    with (
        new_pg_database() as url,
        mb.Tracker(url, plugin_manager=mb.create_plugin_manager(), artifact_root=folder) as tracker,
    ):
        yield tracker, _build(tracker)


def _selected(tracker: mb.Tracker, ids: dict[str, str], where: str) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[i] for i in tracker.leaderboard(where=where)["id"]}


def test_optimizer_is_the_canonical_name_for_old_and_new_records(vocab) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = vocab
    frame = tracker.leaderboard(columns="id,optimizer").set_index("id")
    assert frame.loc[ids["old_torch"], "optimizer"] == "adam"  # stored as "Adam"
    assert frame.loc[ids["keras_early"], "optimizer"] == "adam"
    assert frame.loc[ids["torch_steplr"], "optimizer"] == "adadelta"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("optimizer in ('adam', 'sgd')", {"old_torch", "keras_early", "keras_sgd"}),
        ("optimizer = 'Adam'", {"old_torch", "keras_early"}),
        ("optimizer = 'ADAM' and framework = 'Torch'", {"old_torch"}),
        ("optimizer != 'adam'", {"torch_steplr", "keras_sgd"}),
        ("optimizer not in ('ADADELTA', 'Sgd')", {"old_torch", "keras_early"}),
        ("network.optimizer = 'Adam'", {"old_torch", "keras_early"}),
        ("optimizer like 'ada%'", {"old_torch", "keras_early", "torch_steplr"}),
        ("optimizer contains 'DEL'", {"torch_steplr"}),
        ("framework in ('KERAS')", {"keras_early", "keras_sgd"}),
        ("status = 'FAILED'", {"keras_sgd"}),
        ("loss_function = 'crossentropyloss'", {"torch_steplr"}),
        ("model_name = 'mycnn'", {"keras_sgd"}),
        ("name = 'OLD_TORCH'", set()),  # names are the user's: case matters
    ],
)
def test_enum_columns_compare_without_case(vocab, where: str, expected: set[str]) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = vocab
    assert _selected(tracker, ids, where) == expected


def test_sorting_by_optimizer_uses_the_canonical_names(vocab) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = vocab
    frame = tracker.leaderboard(sort="optimizer", ascending=True, columns="name,optimizer")
    assert list(frame["optimizer"]) == ["adadelta", "adam", "adam", "sgd"]


def test_learning_rate_is_the_initial_value_and_the_last_has_its_own_column(vocab) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = vocab
    frame = tracker.leaderboard(columns="id,learning_rate,learning_rate_last").set_index("id")
    assert frame.loc[ids["torch_steplr"], "learning_rate"] == 1.0
    assert frame.loc[ids["torch_steplr"], "learning_rate_last"] == 0.49
    assert frame.loc[ids["keras_early"], "learning_rate"] == 0.01
    assert frame.loc[ids["keras_early"], "learning_rate_last"] == 0.00125
    # unknown last value stays empty: never the initial value in its place
    assert frame["learning_rate_last"].isna()[ids["old_torch"]]
    assert frame["learning_rate_last"].isna()[ids["keras_sgd"]]
    # a learning rate the user gave comes first
    assert frame.loc[ids["keras_sgd"], "learning_rate"] == 0.5
    assert _selected(tracker, ids, "learning_rate_last < 0.01") == {"keras_early"}


def test_epochs_ran_and_epochs_planned(vocab) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = vocab
    frame = tracker.leaderboard(columns="id,epochs,epochs_planned").set_index("id")
    assert frame.loc[ids["keras_early"], "epochs"] == 5  # early stopping ran 5 of 30
    assert frame.loc[ids["keras_early"], "epochs_planned"] == 30
    assert frame.loc[ids["torch_steplr"], "epochs"] == 4
    assert frame.loc[ids["torch_steplr"], "epochs_planned"] == 4  # params.epochs
    assert frame["epochs_planned"].isna()[ids["old_torch"]]


def test_the_enum_columns_are_listed() -> None:
    assert {"framework", "status", "optimizer", "loss_function", "model_name"} <= set(ENUM_COLUMNS)
