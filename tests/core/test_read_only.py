"""Read-only commands never create, migrate or change a store (issue 12, items 8 and 10)."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

import modelboard as mb

READ_COMMANDS = [
    ["ls"],
    ["ls", "--json"],
    ["show", "abc"],
    ["compare", "abc", "def"],
    ["export", "--format", "csv", "--out", "OUT"],
    ["gc", "--dry-run"],
]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from modelboard.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_foreign_sqlite_database_is_refused_and_left_byte_for_byte(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    with sqlite3.connect(app / "app.db") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    before = _digest(app)
    for command in READ_COMMANDS:
        args = [c.replace("OUT", str(tmp_path / "out.csv")) for c in command]
        done = _cli(*args, "--store", f"sqlite:///{app / 'app.db'}", cwd=tmp_path)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "not a modelboard store" in done.stderr and "customers" in done.stderr
        assert _digest(app) == before, command  # no WAL switch, no new tables, no artifacts/
    assert not (tmp_path / "out.csv").exists()


def test_a_missing_store_is_reported_and_not_created(tmp_path: Path) -> None:
    for command in READ_COMMANDS:
        args = [c.replace("OUT", str(tmp_path / "out.csv")) for c in command]
        done = _cli(*args, "--store", str(tmp_path / "nowhere"), cwd=tmp_path)
        assert done.returncode == 2 and "no modelboard store at" in done.stderr, command
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(mb.StoreUnavailableError, match="no modelboard store"):
        mb.Tracker(tmp_path / "nowhere", read_only=True)
    assert not (tmp_path / "nowhere").exists()


def test_a_corrupt_store_file_is_one_clear_error_in_python(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "modelboard.db").write_bytes(b"this is not a database" * 100)
    for read_only in (False, True):
        with pytest.raises(mb.StoreUnavailableError, match="not a SQLite database or is corrupt"):
            mb.Tracker(store, read_only=read_only)


def test_a_read_only_tracker_reads_our_store_and_starts_no_run(tmp_path: Path) -> None:
    with mb.Tracker(tmp_path / "store") as tracker:
        run = tracker.start_run("kept")
        run.log(loss=1.0)
        run.finish()
    with mb.Tracker(tmp_path / "store", read_only=True) as reader:
        assert [r.name for r in reader.runs()] == ["kept"]
        assert len(reader.leaderboard()) == 1
        with pytest.raises(mb.ModelboardError, match="read-only"):
            reader.start_run("new")
    done = _cli("ls", "--store", str(tmp_path / "store"), cwd=tmp_path)
    assert done.returncode == 0 and "kept" in done.stdout


def test_a_foreign_postgresql_database_keeps_its_tables(pg_url: str, tmp_path: Path) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id serial PRIMARY KEY, total numeric)"))
    before = sorted(inspect(engine).get_table_names())
    for command in READ_COMMANDS:
        args = [c.replace("OUT", str(tmp_path / "out.csv")) for c in command]
        done = _cli(*args, "--store", pg_url, cwd=tmp_path)
        assert done.returncode == 2 and "not a modelboard store" in done.stderr, command
    engine.dispose()
    engine = create_engine(pg_url)
    assert sorted(inspect(engine).get_table_names()) == before == ["invoices"]
    engine.dispose()
    assert not (tmp_path / ".modelboard").exists()
