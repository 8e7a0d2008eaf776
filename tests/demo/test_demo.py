"""``modelboard demo``: the main job, end to end, on real Keras and PyTorch."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import modelboard as mb
from modelboard.demo import report
from modelboard.demo.runner import missing_packages

needs_both = pytest.mark.skipif(
    bool(missing_packages("keras") or missing_packages("torch")),
    reason="the demo's CI test needs tensorflow, keras, torch and torchvision",
)


def _demo_command(*args: str) -> list[str]:
    """``modelboard demo ...`` through the console script next to this Python, if installed."""
    script = Path(sys.executable).with_name("modelboard")
    if script.exists():
        return [str(script), "demo", *args]
    code = "import sys; from modelboard.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, "demo", *args]


def _printed_leaderboard(output: str) -> list[dict[str, str]]:
    """The rows of the printed leaderboard table, keyed by its headers."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Leaderboard"))
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            break
        if line.startswith(("┃", "│")):
            rows.append([cell.strip() for cell in re.split("[┃│]", line.strip())[1:-1]])
    header, body = rows[0], rows[1:]
    return [dict(zip(header, row, strict=True)) for row in body]


@needs_both
@pytest.mark.keras
@pytest.mark.torch
def test_quick_demo_tracks_complete_runs_in_both_frameworks(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = {**os.environ, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8", "TERM": "dumb"}
    result = subprocess.run(
        _demo_command("--quick", "--store", str(store), "--seed", "0"),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    with mb.Tracker(store) as tracker:
        runs = tracker.runs()
        assert len(runs) == 4
        assert {r.framework for r in runs} == {"keras", "torch"}
        for record in runs:
            stored = tracker.get(record.id)
            assert stored.status == "finished", (record.name, record.error)
            assert stored.data is not None and stored.data.name == "digits"
            assert stored.data.augmentations, "augmentations recorded"
            assert stored.network is not None and stored.network.total_params > 0
            assert stored.network.layers
            assert {"loss", "val_accuracy"} <= set(stored.training.metrics)
            assert stored.gradients and stored.gradients[0].parameters
            evaluation = stored.evaluations["val"]
            assert 0.0 <= evaluation.metrics["accuracy"] <= 1.0
            assert len(evaluation.per_class["precision"]) == 10
            assert len(evaluation.per_class["recall"]) == 10

    rows = _printed_leaderboard(result.stdout)
    assert len(rows) == 4
    accuracies = [float(row["val_accuracy"]) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    assert {row["framework"] for row in rows} == {"keras", "torch"}
    assert re.search(r"leaderboard:\s+\S+leaderboard\.csv", result.stdout)
    assert re.search(r"report:\s+\S+report\.html", result.stdout)

    with open(store / "leaderboard.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4
    missing = [c for c in report.SEED_COLUMNS if c not in table[0]]
    assert not missing, f"seed columns missing from the CSV: {missing}"
    for row in table:
        empty = [c for c in report.SEED_COLUMNS if row[c] in ("", "null", "[]", "{}")]
        assert not empty, f"seed columns empty for {row['framework']} {row['model_name']}: {empty}"
    page = (store / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    for row in table:  # the dashboard's report: a page for every run of the demo
        assert row["id"] in page
    assert "data-figure" in page  # with its plotly figures inlined


@pytest.mark.torch
@pytest.mark.skipif(bool(missing_packages("torch")), reason="needs torch and torchvision")
def test_seeded_quick_demo_repeats_pytorch_metrics_exactly(tmp_path: Path) -> None:
    from modelboard.demo import main

    def metrics(store: Path) -> list[tuple[str, dict[str, list[float]], dict[str, float | None]]]:
        argv = ["--quick", "--frameworks", "torch", "--seed", "7", "--store", str(store)]
        assert main(argv) == 0
        with mb.Tracker(store) as tracker:
            out = []
            for record in sorted(tracker.runs(), key=lambda r: r.created):
                stored = tracker.get(record.id)
                series = {k: v.values for k, v in stored.training.metrics.items()}
                out.append((record.name, series, stored.evaluations["val"].metrics))
            return out

    first, second = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert len(first) == 2
    assert first == second


@pytest.mark.torch
@pytest.mark.skipif(bool(missing_packages("torch")), reason="needs torch and torchvision")
def test_demo_runs_the_other_framework_when_one_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelboard.demo import command, main

    real = command.missing_packages
    monkeypatch.setattr(
        command, "missing_packages", lambda name: ["tensorflow"] if name == "keras" else real(name)
    )
    assert main(["--quick", "--runs", "1", "--store", str(tmp_path / "store")]) == 0
    out = capsys.readouterr().out
    assert "keras is not installed (missing tensorflow)" in out
    with mb.Tracker(tmp_path / "store") as tracker:
        runs = tracker.runs()
    assert [(r.framework, r.name, r.status) for r in runs] == [("torch", "basic_cnn", "finished")]

    monkeypatch.setattr(command, "missing_packages", lambda name: [name])
    assert main(["--quick", "--store", str(tmp_path / "other")]) == 1
    assert "no framework to train with" in capsys.readouterr().out
