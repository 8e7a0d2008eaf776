"""The ``modelboard`` command: every subcommand, --json, prefixes, and clean failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from modelboard.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def store_of(sample) -> str:  # type: ignore[no-untyped-def]
    return str(Path(sample[0].location.url.removeprefix("sqlite:///")).parent)


def test_ls_table_and_json(sample, capsys) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    code, out, _ = run(capsys, "ls", "--store", store_of(sample), "--sort", "val_accuracy")
    assert code == 0 and "val_accuracy" in out and ids["torch"][:8] in out
    assert out.index(ids["torch"][:8]) < out.index(ids["keras"][:8])
    code, out, _ = run(
        capsys,
        "--store",
        store_of(sample),
        "ls",
        "--json",
        "--where",
        "features contains 'label_leak'",
        "--columns",
        "id,name,val_accuracy",
    )
    assert code == 0 and json.loads(out) == [
        {"id": ids["wide"], "name": "basic_cnn_wide", "val_accuracy": 0.8}
    ]


def test_ls_limit_and_env_store(sample, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MODELBOARD_URI", store_of(sample))
    code, out, _ = run(capsys, "ls", "--limit", "2", "--json")
    assert code == 0 and len(json.loads(out)) == 2
    code, out, _ = run(capsys, "ls", "--limit", "2")
    assert "--limit 0 shows all" in out


def test_show_by_prefix(sample, capsys) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    code, out, _ = run(capsys, "show", ids["torch"][:5], "--store", store_of(sample))
    assert code == 0
    for text in ("BasicCNN", "features.0", "evaluation: val", "per class: val", "val_loss"):
        assert text in out
    code, out, _ = run(capsys, "show", ids["keras"][:6], "--json", "--store", store_of(sample))
    document = json.loads(out)
    assert document["run"]["id"] == ids["keras"]
    assert document["network"]["architecture"] == "basic_cnn"
    assert document["evaluations"]["val"]["metrics"]["accuracy"] == 0.86


def test_compare_and_plot(sample, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    png = tmp_path / "curves.png"
    code, out, _ = run(
        capsys,
        "compare",
        ids["keras"][:6],
        ids["wide"][:6],
        "--store",
        store_of(sample),
        "--plot",
        str(png),
    )
    assert code == 0 and "layers (aligned)" in out and "gap" in out and "--all" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(
        capsys, "compare", ids["keras"], ids["torch"], "--json", "--store", store_of(sample)
    )
    layers = json.loads(out)["layers"]
    assert len(layers) == 8 and all(row["match"] != "gap" for row in layers)


def test_compare_prints_a_summary_and_all_prints_every_field(sample, capsys) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    argv = ["compare", ids["keras"], ids["torch"], "--store", store_of(sample)]
    code, summary, _ = run(capsys, *argv)
    assert code == 0
    code, everything, _ = run(capsys, *argv, "--all")
    assert code == 0
    for text in ("params.batch_size", "optimizer", "learning_rate", "loss.final", "loss.best"):
        assert text in summary, text
    assert "val.accuracy" in summary and "train.size" in summary and "train.x_shape" in summary
    assert "(1437, 28, 28, 1)" in summary  # a shape, as Python writes it
    assert "val.precision[0]" not in summary and "val.precision[0]" in everything
    assert "python_implementation" not in summary and "python_implementation" in everything
    assert len(summary.splitlines()) < len(everything.splitlines()) / 2
    rows = [line for line in summary.splitlines() if "params.batch_size" in line]
    assert len(rows) == 1 and rows[0].lstrip("│ ").startswith("*")  # 32 against 64: marked


def test_show_prints_shapes_and_the_leaderboard_columns(tracker, capsys) -> None:  # type: ignore[no-untyped-def]
    from modelboard.records import LayerRecord, NetworkRecord, OptimizerRecord

    run_ = tracker.start_run("shapes", framework="keras", hparams={"learning_rate": 0.5})
    optimizer = OptimizerRecord(
        "adam", learning_rate=0.1, class_name="Adam", learning_rate_last=0.025
    )
    run_.set_network(
        NetworkRecord(
            framework="keras",
            architecture="two_inputs",
            input_shape=[[None, 28, 28, 1], [None, 10]],
            output_shape=[None, 10],
            layers=[LayerRecord("conv", "Conv2D", "conv2d", output_shape=[None, 32, 26, 26])],
            optimizer=optimizer,
            optimizers=[optimizer],
            epochs_planned=30,
            epochs_run=5,
        )
    )
    run_.finish()
    store = str(Path(tracker.location.url.removeprefix("sqlite:///")).parent)
    code, out, _ = run(capsys, "show", run_.id, "--store", store)
    assert code == 0
    assert "(None, 32, 26, 26)" in out and "(None, 10)" in out
    assert "[(None, 28, 28, 1), (None, 10)]" in out  # several inputs
    assert "[, " not in out
    code, listed, _ = run(
        capsys, "ls", "--json", "--store", store, "--columns",
        "learning_rate,learning_rate_last,epochs,epochs_planned,optimizer",
    )  # fmt: skip
    code, shown, _ = run(capsys, "show", run_.id, "--json", "--store", store)
    columns = json.loads(shown)["columns"]
    (row,) = json.loads(listed)
    assert row == {k: columns[k] for k in row}  # show and ls agree, value for value
    assert row == {
        "learning_rate": 0.5,  # the user's hyperparameter comes first
        "learning_rate_last": 0.025,
        "epochs": 5,
        "epochs_planned": 30,
        "optimizer": "adam",
    }
    assert "leaderboard columns" in out and "0.025" in out


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json", "markdown", "html"])
def test_export(sample, capsys, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    out_file = tmp_path / f"board.{fmt}"
    code, out, _ = run(
        capsys,
        "export",
        "--format",
        fmt,
        "--out",
        str(out_file),
        "--store",
        store_of(sample),
        "--sort",
        "val_accuracy",
    )
    assert code == 0 and "wrote 5 runs" in out and out_file.stat().st_size > 0
    if fmt == "csv":
        expected = sample[0].leaderboard(sort="val_accuracy")
        pd.testing.assert_frame_equal(pd.read_csv(out_file), expected, check_dtype=False)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["show", "zzzz"], "no run with id 'zzzz'"),
        (["ls", "--where", "val_accuracy >"], "bad filter at position 14"),
        (["ls", "--sort", "nope"], "unknown column 'nope'"),
        (["compare", "0000", "ffff"], "no run with id"),
        (["export", "--out", "x.xlsx"], "cannot tell the export format"),
    ],
)
def test_errors_are_one_line_and_exit_2(sample, capsys, argv, fragment) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, *argv, "--store", store_of(sample))
    assert code == 2 and fragment in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unreachable_store(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "ls", "--store", str(tmp_path / "missing"))
    assert code == 2 and "no modelboard store at" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "missing").exists()  # reading never creates a store
    code, _, err = run(capsys, "ls", "--store", "postgresql+psycopg://u:secret@127.0.0.1:1/x")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "secret" not in err


def test_rm_asks_and_gc_removes_orphans(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sample_runs import build_store

    tracker, ids = build_store(tmp_path / "s")
    store = str(tmp_path / "s")
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, _, err = run(capsys, "rm", ids["other"][:8], "--store", store)
    assert code == 1 and "nothing deleted" in err and len(tracker.runs()) == 5
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, _ = run(capsys, "rm", ids["other"][:8], "--store", store)
    assert code == 0 and len(tracker.runs()) == 4
    code, out, _ = run(capsys, "rm", ids["failed"], "--yes", "--json", "--store", store)
    assert json.loads(out) == {"deleted": [ids["failed"]]}
    orphan = tracker.location.artifact_root / ("ab" * 16)
    orphan.mkdir(parents=True)
    (orphan / "plot.png").write_bytes(b"x" * 10)
    keep = tracker.store.artifact_dir(ids["keras"])
    code, out, _ = run(capsys, "gc", "--json", "--store", store)
    assert json.loads(out)["removed"] == ["ab" * 16]
    assert not orphan.exists() and keep.exists()
    tracker.close()


def test_rm_refuses_a_live_run_and_gc_removes_rows_it_wrote_after(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import modelboard as mb

    store = str(tmp_path / "s")
    tracker = mb.Tracker(store, plugin_manager=mb.create_plugin_manager(autoload=False))
    live = tracker.start_run("live")
    live.log(loss=1.0)
    live.flush()
    code, _, err = run(capsys, "rm", live.id[:8], "--yes", "--store", store)
    assert code == 2 and "still running" in err and "--force" in err
    assert [r.id for r in tracker.runs()] == [live.id]
    code, _, _ = run(capsys, "rm", live.id[:8], "--yes", "--force", "--store", store)
    assert code == 0 and tracker.runs() == []
    live.log(loss=0.5)  # the live process goes on writing rows of a deleted run
    live.flush()
    code, out, _ = run(capsys, "gc", "--json", "--dry-run", "--store", store)
    assert json.loads(out)["rows"] >= 2  # its metric point and its summary values
    code, out, _ = run(capsys, "gc", "--json", "--store", store)
    assert json.loads(out)["rows"] >= 2
    code, out, _ = run(capsys, "gc", "--json", "--store", store)
    assert json.loads(out)["rows"] == 0
    with pytest.raises(mb.RunNotFoundError, match="deleted from the store while it ran"):
        live.finish()  # the run row is gone: the error says so instead of dropping it silently
    tracker.close()


def test_demo_options_pass_through_to_the_demo(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as done:
        main(["demo", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: modelboard demo")
    for option in ("--quick", "--frameworks", "--runs", "--store", "--seed"):
        assert option in out


def test_entry_point_subprocess(sample) -> None:  # type: ignore[no-untyped-def]
    exe = Path(sys.executable).parent / "modelboard"
    done = subprocess.run(
        [str(exe), "show", "nope", "--store", store_of(sample)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
