"""The honest leaderboard (``comparable=True``, ``modelboard ls``): runs evaluated on other data
are never ranked together, seeds make one entry, overlapping intervals are ties.

Real runs through the Tracker API: scikit-learn models trained on digits, their predictions
evaluated with ``run.evaluate(y_true=..., y_score=...)`` against the run's ``mb.Data``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pg_databases import new_pg_database

import modelboard as mb
from modelboard.cli import main
from modelboard.leaderboard.ranking import bootstrap_interval, t_interval, tie_ranks
from modelboard.tracking import Tracker


@pytest.fixture(scope="module")
def digits() -> dict[str, Any]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order] / 16.0, y[order]
    return {
        "train": (x[:1000], y[:1000]),
        "a": (x[1000:1400], y[1000:1400]),
        "b": (x[1400:], y[1400:]),
    }


def _model(kind: str, seed: int) -> Any:
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import SGDClassifier

    if kind.startswith("sgd-"):  # sgd-<alpha>: five epochs of logistic regression by SGD
        alpha = float(kind.removeprefix("sgd-"))
        return SGDClassifier(loss="log_loss", alpha=alpha, max_iter=5, tol=None, random_state=seed)
    return DummyClassifier(strategy="stratified", random_state=seed)


def _train(tracker: Tracker, digits: dict[str, Any], kind: str, seed: int, val: str) -> str:
    """One real run: train ``kind`` on the training split, evaluate on validation split ``val``."""
    import warnings

    x_train, y_train = digits["train"]
    x_val, y_val = digits[val]
    data = mb.Data(f"digits-{val}", train=(x_train, y_train), val=(x_val, y_val))
    run = tracker.start_run(kind, data=data, hparams={"model": kind, "seed": seed})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 5 SGD epochs do not converge, on purpose
        model = _model(kind, seed).fit(x_train, y_train)
    run.evaluate(y_true=y_val, y_score=model.predict_proba(x_val), split="val", plots=False)
    run.finish()
    return run.id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def board(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, digits):  # type: ignore[no-untyped-def]
    def build(location: str) -> tuple[Tracker, dict[str, list[str]]]:
        tracker = Tracker(location, announce=False)
        ids: dict[str, list[str]] = {}
        for kind, seeds, val in [
            ("sgd-1e-4", (0, 1, 2), "a"),  # three seeds of one configuration
            ("sgd-1e-4", (0,), "b"),  # the same configuration evaluated on other data
            ("sgd-3e-4", (0,), "a"),  # within the noise of alpha=1e-4
            ("dummy", (0,), "a"),  # guesses: far below everything
        ]:
            ids[f"{kind}/{val}"] = [_train(tracker, digits, kind, s, val) for s in seeds]
        return tracker, ids

    folder = tmp_path_factory.mktemp("ranking")
    if request.param == "sqlite":
        tracker, ids = build(str(folder / "store"))
        yield tracker, ids, str(folder / "store")
        tracker.close()
        return
    with new_pg_database() as url:
        tracker, ids = build(url)
        yield tracker, ids, url
        tracker.close()


def _entry(frame: Any, runs: list[str]) -> Any:
    rows = frame[frame["runs"].apply(lambda r: sorted(r) == sorted(runs))]
    assert len(rows) == 1, f"no single entry holds exactly {runs}"
    return rows.iloc[0]


def test_two_validation_splits_rank_in_two_groups(board) -> None:  # type: ignore[no-untyped-def]
    tracker, ids, _ = board
    flat = tracker.leaderboard(sort="val_accuracy")
    assert len(flat) == 6  # the flat list ranks every run on one list
    frame = tracker.leaderboard(sort="val_accuracy", comparable=True)
    groups = {g["data_name"]: g for g in frame.attrs["modelboard_groups"]}
    assert set(groups) == {"digits-a", "digits-b"}
    assert groups["digits-a"]["runs"] == 5 and groups["digits-b"]["runs"] == 1
    assert all(g["ranked"] for g in groups.values())
    a = tracker.get(ids["sgd-1e-4/a"][0]).evaluations["val"]
    b = tracker.get(ids["sgd-1e-4/b"][0]).evaluations["val"]
    assert a.data_fingerprint and b.data_fingerprint and a.data_fingerprint != b.data_fingerprint
    # the key is the data split's fingerprint, as mb.Data computed it
    assert a.data_fingerprint == tracker.get(ids["sgd-1e-4/a"][0]).data.splits["val"].fingerprint
    assert groups["digits-a"]["data_fingerprint"] == a.data_fingerprint[:12]
    for _, row in frame.iterrows():  # no entry mixes runs of both splits
        fingerprints = {tracker.get(r).evaluations["val"].data_fingerprint for r in row["runs"]}
        assert len(fingerprints) == 1 and row["data_fingerprint"] == fingerprints.pop()[:12]
    # the key is a column in SQL too: which runs were evaluated on this data?
    on_a = tracker.leaderboard(where=f"comparability.val like '{a.data_fingerprint}%'")
    assert sorted(on_a["id"]) == sorted(r for k, v in ids.items() if k.endswith("/a") for r in v)
    other = _entry(frame, ids["sgd-1e-4/b"])
    assert other["rank"] == "1" and other["group"] == groups["digits-b"]["group"]


def test_three_seeds_are_one_entry(board) -> None:  # type: ignore[no-untyped-def]
    tracker, ids, _ = board
    frame = tracker.leaderboard(sort="val_accuracy", comparable=True)
    flat = tracker.leaderboard(sort="val_accuracy", columns=["id", "val_accuracy"])
    values = flat.set_index("id").loc[ids["sgd-1e-4/a"], "val_accuracy"].to_numpy(dtype=float)
    assert len(set(values.tolist())) > 1  # the seeds really differ
    entry = _entry(frame, ids["sgd-1e-4/a"])
    assert entry["n"] == 3 and sorted(entry["seeds"]) == [0, 1, 2]
    assert entry["mean"] == pytest.approx(values.mean())
    assert entry["std"] == pytest.approx(values.std(ddof=1))
    assert (entry["min"], entry["max"]) == (values.min(), values.max())
    assert (entry["ci_low"], entry["ci_high"]) == pytest.approx(t_interval(values))
    single = _entry(frame, ids["sgd-3e-4/a"])
    assert single["n"] == 1 and np.isnan(single["std"])  # n=1: no spread to show
    # group_by= overrides the grouping: every run of one group by its model
    by_model = tracker.leaderboard(sort="val_accuracy", comparable=True, group_by="params.model")
    assert _entry(by_model, ids["sgd-1e-4/a"])["name"] == "params.model=sgd-1e-4"
    with pytest.raises(ValueError, match="comparable=True"):
        tracker.leaderboard(sort="val_accuracy", group_by="params.model")


def test_overlapping_intervals_are_tied(board) -> None:  # type: ignore[no-untyped-def]
    tracker, ids, _ = board
    frame = tracker.leaderboard(sort="val_accuracy", comparable=True)
    seeds, close, weak = (_entry(frame, ids[k]) for k in ("sgd-1e-4/a", "sgd-3e-4/a", "dummy/a"))
    assert seeds["interval"] == "t over 3 runs"
    for entry in (close, weak):  # one run each: the bootstrap of its per-example correctness
        record = tracker.get(entry["runs"][0]).evaluations["val"]
        flags = record.correct_flags()
        assert flags is not None and flags.mean() == pytest.approx(record.metrics["accuracy"])
        assert (entry["ci_low"], entry["ci_high"]) == bootstrap_interval(flags)
        assert entry["ci_low"] <= entry["mean"] <= entry["ci_high"]
        assert entry["interval"] == f"bootstrap of {len(flags)} examples"
    assert seeds["mean"] != close["mean"]
    assert seeds["ci_low"] <= close["ci_high"] and close["ci_low"] <= seeds["ci_high"]
    assert seeds["rank"] == close["rank"] == "=1"  # overlapping: tied, not ranked
    assert close["name"] in seeds["tied_with"] and seeds["name"] in close["tied_with"]
    assert weak["ci_high"] < min(seeds["ci_low"], close["ci_low"])  # clearly worse
    assert weak["rank"] == "3" and weak["tied_with"] == []


def test_tie_ranks_and_bootstrap_are_deterministic() -> None:
    ranks, tied = tie_ranks([(0.9, 0.95), (0.85, 0.91), (0.7, 0.8), None])
    assert ranks == ["=1", "=1", "3", "4"] and tied == [[1], [0], [], []]
    flags = np.random.default_rng(3).random(300) < 0.7
    assert bootstrap_interval(flags) == bootstrap_interval(flags)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_ls_groups_by_default_and_all_is_flat(board, capsys) -> None:  # type: ignore[no-untyped-def]
    tracker, ids, location = board
    out = _cli(capsys, "ls", "--store", location, "--sort", "val_accuracy")
    fingerprint = tracker.get(ids["sgd-1e-4/b"][0]).evaluations["val"].data_fingerprint
    assert "digits-a" in out and "digits-b" in out and f"fingerprint {fingerprint[:12]}" in out
    assert "val_accuracy (evaluation) mean ± std" in out and "n=3" in out
    assert out.index("digits-a") < out.index("digits-b")  # the bigger group first
    flat = _cli(capsys, "ls", "--store", location, "--sort", "val_accuracy", "--all")
    assert "val_accuracy (evaluation)" in flat and "mean" not in flat
    assert all(run_id[:8] in flat for runs in ids.values() for run_id in runs)
    document = json.loads(
        _cli(capsys, "ls", "--store", location, "--json", "--group-by", "params.model")
    )
    assert document["metric"] == "val_accuracy" and document["value_source"] == "evaluation"
    names = {(e["data_name"], e["name"]): e["n"] for e in document["entries"]}
    assert names[("digits-a", "params.model=sgd-1e-4")] == 3
    rows = json.loads(_cli(capsys, "ls", "--store", location, "--json"))
    assert len(rows) == 6  # scripts keep one object per run


def test_fingerprint_unknown_is_its_own_group(tmp_path: Path, digits) -> None:  # type: ignore[no-untyped-def]
    tracker = Tracker(str(tmp_path / "store"), announce=False)
    known = _train(tracker, digits, "sgd-1e-4", 0, "a")
    run = tracker.start_run("no data", hparams={"model": "sgd-1e-4"})  # no mb.Data: unknown
    x_val, y_val = digits["a"]
    scores = np.eye(10)[y_val] * 0.9 + 0.01
    record = run.evaluate(y_true=y_val, y_score=scores, split="val", plots=False)
    run.finish()
    assert record.data_fingerprint is None and record.data_fingerprint_source.startswith("unknown")
    frame = tracker.leaderboard(sort="val_accuracy", comparable=True)
    groups = frame.attrs["modelboard_groups"]
    assert [(g["data_fingerprint"], g["ranked"]) for g in groups][-1] == ("unknown", False)
    unknown = _entry(frame, [run.id])
    known_group = _entry(frame, [known])["group"]
    assert unknown["rank"] == "-" and unknown["group"] != known_group
    # the same labels in the same order: named as possibly the same examples, still apart
    assert groups[unknown["group"] - 1]["same_labels_as"] == [known_group]
    tracker.close()


def test_evaluated_arrays_carry_their_split_fingerprint(digits) -> None:  # type: ignore[no-untyped-def]
    from modelboard.evaluation.comparability import array_fingerprint

    x_val, y_val = digits["a"]
    split = mb.Data("digits", val=(x_val, y_val)).record.splits["val"]
    assert array_fingerprint(x_val, y_val) == (split.fingerprint, "x and y as evaluated")
    assert array_fingerprint(x_val, y_val[::-1].copy())[0] != split.fingerprint
    fingerprint, how = array_fingerprint({"image": x_val}, y_val)  # a dict of inputs
    assert fingerprint is None and how.startswith("unknown")
