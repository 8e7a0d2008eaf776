"""Whole-store reads in chunks: the same frame, runs and files whatever the chunk size, and
``ls`` pages that say what they left out (SQLite and PostgreSQL, the ``sample`` store)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from modelboard.cli import main
from modelboard.cli.render import write_plain_table
from modelboard.leaderboard import export_frame, leaderboard
from modelboard.leaderboard._csv import csv_block
from modelboard.store import count_runs, query_runs
from modelboard.store.run_list import RunList, list_run_ids

QUERIES = [
    {},
    {"sort": "val_accuracy"},
    {"sort": "-created", "where": "framework = 'torch' or tags.baseline = 'yes'"},
    {"columns": "id,name,optimizer,learning_rate,batch_size,early_stop,gradient_health"},
    {"columns": ["id", "val_x_shape", "features", "params.batch_size"], "sort": "name"},
]


def _row_by_row(store, **query) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The frame as the row-by-row page build gives it (``query_runs``: lists of values)."""
    page = query_runs(store, **query)
    frame = pd.DataFrame(page.rows, columns=page.labels)
    for label in [c for c in frame.columns if frame[c].dtype.kind == "O"]:
        frame[label] = frame[label].where(frame[label].notna(), float("nan"))
    return frame


def _missing_as_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet reads a missing cell of a text/bool column back as ``None``; the frame has NaN."""
    for label in [c for c in frame.columns if frame[c].dtype.kind == "O"]:
        frame[label] = frame[label].where(frame[label].notna(), float("nan"))
    return frame


def _store_arg(tracker) -> str:  # type: ignore[no-untyped-def]
    url = tracker.location.url
    if url.startswith("sqlite:///"):
        return str(Path(url.removeprefix("sqlite:///")).parent)
    return url


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_chunked_frame_equals_row_by_row(sample, query) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    expected = _row_by_row(tracker.store, **query)
    assert len(expected) > 0
    for chunk_size in (1, 2, 5000):
        frame = leaderboard(tracker.store, chunk_size=chunk_size, **query)
        pd.testing.assert_frame_equal(frame, expected)  # values and dtypes


def test_default_frame_drops_empty_columns_and_keeps_run_columns(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    one = leaderboard(tracker.store, where=f"id = '{ids['torch']}'", chunk_size=1)
    assert list(one["id"]) == [ids["torch"]]
    assert {"id", "name", "status", "created", "duration"} <= set(one.columns)
    assert all(one[c].notna().any() for c in one.columns if c not in ("ended", "parent_id"))


def test_runs_in_chunks_equal_the_list(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    expected = tracker.store.list_runs()
    assert len(expected) >= 5
    for chunk_size in (1, 2, 1000):
        listed = RunList(tracker.store, list_run_ids(tracker.store), chunk_size=chunk_size)
        assert len(listed) == len(expected) and listed == expected
        assert [r.id for r in listed] == [r.id for r in expected]
        assert listed[-1] == expected[-1] and listed[1:3] == expected[1:3]
    assert tracker.runs() == expected  # what Tracker.runs returns compares equal to the list
    assert [r.id for r in tracker.runs(limit=2)] == [r.id for r in expected[:2]]
    with pytest.raises(IndexError):
        tracker.runs()[len(expected)]


def test_export_in_blocks_reads_back_as_the_frame(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    frame = tracker.leaderboard(sort="val_accuracy")
    whole = pd.read_csv(export_frame(frame, tmp_path / "whole.csv", chunk_rows=10_000))
    blocks = pd.read_csv(export_frame(frame, tmp_path / "blocks.csv", chunk_rows=2))
    pd.testing.assert_frame_equal(blocks, whole)
    pd.testing.assert_frame_equal(blocks, frame, check_dtype=False)
    columns = "id,name,val_accuracy,batch_size,optimizer,early_stop"
    narrow = tracker.leaderboard(columns=columns, sort="name")
    back = pd.read_parquet(export_frame(narrow, tmp_path / "b.parquet", chunk_rows=2))
    pd.testing.assert_frame_equal(_missing_as_nan(back), narrow)
    empty = tracker.leaderboard(where="name = 'no such run'", columns=columns)
    assert list(pd.read_csv(export_frame(empty, tmp_path / "e.csv")).columns) == list(empty)


def test_export_command_equals_the_leaderboard(sample, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    store = _store_arg(tracker)
    frame = tracker.leaderboard()
    for fmt in ("csv", "parquet"):
        target = tmp_path / f"board.{fmt}"
        assert main(["export", "--store", store, "--out", str(target)]) == 0
        assert f"wrote {len(frame)} runs" in capsys.readouterr().out
        back = pd.read_csv(target) if fmt == "csv" else _missing_as_nan(pd.read_parquet(target))
        pd.testing.assert_frame_equal(back, frame, check_dtype=fmt == "parquet")


def test_ls_says_how_many_runs_it_left_out(sample, capsys) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    store = _store_arg(tracker)
    total = count_runs(tracker.store)
    assert main(["ls", "--store", store, "--limit", "2", "--all"]) == 0  # the flat list
    out = capsys.readouterr().out
    more = total - 2
    assert f"… {more:,} more run{'s' if more != 1 else ''}; --limit 0 shows all" in out
    assert main(["ls", "--store", store, "--limit", "0", "--all"]) == 0
    out = capsys.readouterr().out
    assert "more run" not in out
    assert all(r.id[:8] in out for r in tracker.runs())
    torch_runs = count_runs(tracker.store, where="framework = 'torch'")
    from modelboard.leaderboard.ranking import comparable_board

    entries = sum(g["entries"] for g in comparable_board(tracker.store).groups)
    assert main(["ls", "--store", store, "--limit", "1"]) == 0  # the grouped board pages too
    out = capsys.readouterr().out
    if entries > 1:
        noun = "entry" if entries - 1 == 1 else "entries"
        assert f"… {entries - 1:,} more {noun}; --limit 0 shows all" in out
    flat = ["ls", "--store", store, "--limit", "1", "--all", "--where", "framework = 'torch'"]
    assert main(flat) == 0
    out = capsys.readouterr().out
    if torch_runs > 1:
        assert f"… {torch_runs - 1:,} more" in out
    else:
        assert "more run" not in out


def test_plain_table_aligns_every_row(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    page = query_runs(tracker.store, columns="id,name,framework,val_accuracy,duration")
    rows = page.rows * 40  # long enough for the plain table ls prints beyond a page
    out = io.StringIO()
    write_plain_table(out, page.labels, rows)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(rows) + 2 and lines[0].split() == page.labels
    gap = lines[1].index("  -")  # the first column ends at the same place on every line
    assert all(line[gap : gap + 2] == "  " and line[gap - 1] != " " for line in lines[2:])
    assert rows[0][0][:8] in lines[2] and lines[2].startswith(rows[0][0][:8])


def test_csv_text_is_what_pandas_writes(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The column-at-a-time CSV writer gives pandas' own bytes: every float as ``repr``
    writes it (all magnitudes, exponents, whole numbers, -0.0, inf), ints, bools, texts that
    need quotes, and object cells."""
    import numpy as np

    tracker, _ = sample
    rng = np.random.default_rng(0)
    size = 20_000
    floats = rng.random(size) * 10.0 ** rng.integers(-320, 308, size) * rng.choice([-1, 1], size)
    floats[::7] = np.round(floats[::7])
    floats[::11] = np.nan
    floats[:12] = [0.0, -0.0, np.inf, -np.inf, 1e16, 1e15, 1e-4, 9.9e-5, 0.1, 100.0, 5e-324, 1e22]
    texts = ["a", "x,y", 'q"uote', "line\nbreak", "", None, "cr\r", "é"]
    cells = [True, None, 1.5, "t,x", 3, float("nan"), "", 2**70]
    frame = pd.DataFrame(
        {
            "f": floats,
            "i": rng.integers(-(2**62), 2**62, size),
            "b": rng.random(size) > 0.5,
            "s": pd.Series([texts[i % len(texts)] for i in range(size)]),
            "o": pd.Series([cells[i % len(cells)] for i in range(size)], dtype=object),
        }
    )
    boards = [frame, leaderboard(tracker.store)]
    for board in boards:
        assert csv_block(board) is not None  # written a column at a time, not by pandas
        written = export_frame(board, tmp_path / "board.csv", chunk_rows=3000)
        assert written.read_bytes() == board.to_csv(index=False).encode()
