"""``modelboard migrate``: SQLite -> PostgreSQL -> SQLite round trips of 1,000 runs, a second
migrate that copies nothing, a migrate killed with SIGKILL and restarted, conflicts, dry runs
and running runs.

The source store holds runs made through the Tracker API (metrics, gradients, evaluations,
artifacts: a file and a folder) and copies of their rows under new ids up to 1,000 runs.
Exactness is checked independently of migrate's own hashes: every row of every table (the
autoincrement ids of metrics and gradients aside) and every artifact file's bytes are compared.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_databases import new_pg_database
from sample_runs import build_store
from sqlalchemy import create_engine, select, text

from modelboard.cli import main
from modelboard.store import tables
from modelboard.store.migrate import (
    MigrationConflictError,
    MigrationError,
    migrate,
    run_digests,
)

RUNS = 1000
CLI = "import sys; from modelboard.cli import main; sys.exit(main(sys.argv[1:]))"


def _api_runs(folder: Path) -> list[str]:
    """The sample store's five runs plus one with a file and a folder artifact."""
    tracker, ids = build_store(folder)
    run = tracker.start_run("with_artifacts", framework="torch", hparams={"lr": 0.1})
    run.log(step=0, loss=0.5)
    note = folder / "notes.txt"
    note.write_text("weights trained on digits\n")
    run.log_artifact(note)
    weights = folder / "weights"
    (weights / "layer").mkdir(parents=True)
    (weights / "layer" / "w.bin").write_bytes(bytes(range(256)) * 4)
    (weights / "meta.json").write_text('{"epochs": 3}')
    run.log_artifact(weights, kind="model")
    run.finish()
    tracker.close()
    return [*ids.values(), run.id]


def _copy_rows(folder: Path, templates: list[str], total: int) -> None:
    """Fill the store up to ``total`` runs with copies of the template runs' rows (and artifact
    files) under new ids, written in bulk."""
    engine = create_engine(f"sqlite:///{folder / 'modelboard.db'}")
    run_tables = [t for t in tables.metadata.sorted_tables if "run_id" in t.c]
    with engine.begin() as conn:
        rows = {
            t.name: {
                rid: [dict(r._mapping) for r in conn.execute(select(t).where(t.c.run_id == rid))]
                for rid in templates
            }
            for t in run_tables
        }
        runs = {
            rid: dict(
                conn.execute(select(tables.runs).where(tables.runs.c.id == rid)).one()._mapping
            )
            for rid in templates
        }
        new_runs: list[dict[str, Any]] = []
        new_rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in run_tables}
        for n in range(total - len(templates)):
            template = templates[n % len(templates)]
            new_id = uuid.uuid4().hex
            run = dict(runs[template], id=new_id)
            run["record"] = run["record"].replace(template, new_id)
            new_runs.append(run)
            for t in run_tables:
                for row in rows[t.name][template]:
                    copy = dict(row, run_id=new_id)
                    copy.pop("id", None)  # metrics and gradients number themselves
                    new_rows[t.name].append(copy)
            source = folder / "artifacts" / template
            if source.is_dir():
                _copy_tree(source, folder / "artifacts" / new_id)
        conn.execute(tables.runs.insert(), new_runs)
        for t in run_tables:
            if new_rows[t.name]:  # an empty list would insert one row of defaults
                conn.execute(t.insert(), new_rows[t.name])
    engine.dispose()


def _copy_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file():
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store of 1,000 runs."""
    folder = tmp_path_factory.mktemp("source")
    _copy_rows(folder, _api_runs(folder), RUNS)
    return folder


@pytest.fixture(scope="module")
def source_content(source: Path) -> dict[str, Any]:
    """The source's rows, artifact files and run hashes, read once."""
    return {
        "rows": _table_rows(_sqlite_url(source)),
        "files": _files(source / "artifacts"),
        "digests": run_digests(source),
    }


def _table_rows(url: str) -> dict[str, Counter[str]]:
    """Every row of every table but the meta table and the run summaries, as a multiset of
    canonical JSON; the autoincrement ids of metrics and gradients are left out."""
    engine = create_engine(url)
    out: dict[str, Counter[str]] = {}
    with engine.connect() as conn:
        for t in tables.metadata.sorted_tables:
            if t in (tables.meta, tables.run_summaries, tables.summary_layouts):
                continue  # the summaries are derived: DST writes its own from the values
            columns = [c for c in t.columns if not (c.name == "id" and t is not tables.runs)]
            out[t.name] = Counter(
                json.dumps([None if v is None else v for v in row], default=str)
                for row in conn.execute(select(*columns))
            )
    engine.dispose()
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'modelboard.db'}"


def test_source_holds_what_the_tests_need(source_content: dict[str, Any]) -> None:
    rows = source_content["rows"]
    assert sum(rows["runs"].values()) == RUNS
    assert sum(rows["gradients"].values()) > 0 and sum(rows["artifacts"].values()) > 0
    assert any('"evaluation:val"' in r for r in rows["records"])
    assert any(p.endswith("layer/w.bin") for p in source_content["files"])
    assert len(set(source_content["digests"].values())) == RUNS


def test_sqlite_to_postgresql_to_sqlite_round_trips_exactly(
    source: Path,
    source_content: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with new_pg_database() as pg:
        pg_artifacts = tmp_path / "pg-artifacts"
        there = migrate(source, pg, destination_artifacts=str(pg_artifacts))
        assert there.ok and there.copied == RUNS and there.present == 0, there.to_dict()
        assert there.verified_runs == RUNS and not there.mismatched

        back = migrate(pg, tmp_path / "back", source_artifacts=str(pg_artifacts))
        assert back.ok and back.copied == RUNS, back.to_dict()

        # a second migrate copies nothing, and says so
        capsys.readouterr()
        code = main(["migrate", str(source), pg, "--dst-artifacts", str(pg_artifacts)])
        out = capsys.readouterr().out
        assert code == 0, out
        assert f"0 runs copied, {RUNS} already present" in out
        assert "verify: ok" in out
        assert _table_rows(pg) == source_content["rows"]

    # exact: every row of every table and every artifact byte, compared without migrate's hash
    assert _table_rows(_sqlite_url(tmp_path / "back")) == source_content["rows"]
    assert _files(tmp_path / "back" / "artifacts") == source_content["files"]
    assert _files(pg_artifacts) == source_content["files"]
    assert run_digests(tmp_path / "back") == source_content["digests"]


def _runs_in(url: str) -> int:
    """Runs in a store, 0 before its tables exist (a missing SQLite file is not created)."""
    if url.startswith("sqlite") and not Path(url.removeprefix("sqlite:///")).exists():
        return 0
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM runs")).scalar_one())
    except Exception:  # the migrate has not created the tables yet
        return 0
    finally:
        engine.dispose()


@contextlib.contextmanager
def _write_lock(url: str) -> Iterator[int]:
    """Hold DST's lock on new runs (SQLite: the write lock; PostgreSQL: runs locked against
    inserts), so a migrate stops inside its next batch; yields the runs DST holds."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(url)
    with engine.connect() as pg:
        pg.execute(text("LOCK TABLE runs IN EXCLUSIVE MODE"))
        yield int(pg.execute(text("SELECT count(*) FROM runs")).scalar_one())
        pg.rollback()
    engine.dispose()


@contextlib.contextmanager
def _destination(kind: str, tmp_path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """``(store argument, database URL, artifact options)`` of a new DST."""
    if kind == "sqlite":
        yield str(tmp_path / "target"), _sqlite_url(tmp_path / "target"), []
        return
    with new_pg_database() as url:
        yield url, url, ["--dst-artifacts", str(tmp_path / "pg-artifacts")]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_migrate_killed_with_sigkill_completes_when_restarted(
    source: Path, source_content: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    with _destination(kind, tmp_path) as (target, url, options):
        artifacts = Path(options[1]) if options else tmp_path / "target" / "artifacts"
        command = [sys.executable, "-c", CLI, "migrate", str(source), target, *options]
        proc = subprocess.Popen(
            [*command, "--batch-size", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while _runs_in(url) == 0:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the migrate wrote no run in 120 s"
            time.sleep(0.01)
        with _write_lock(url) as written:  # the migrate waits inside a batch: kill it there
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=60) == -signal.SIGKILL
        assert 0 < written < RUNS, f"the kill came after {written} runs"

        # whole runs only: every run DST holds is complete (the same hash as in SRC)
        full = source_content["digests"]
        partial = run_digests(target, str(artifacts))
        assert len(partial) == written
        assert all(full[run_id] == digest for run_id, digest in partial.items())

        restarted = subprocess.run(command, capture_output=True, text=True, timeout=240)
        assert restarted.returncode == 0, restarted.stderr
        assert f"{RUNS - written} runs copied, {written} already present" in restarted.stdout
        assert "verify: ok" in restarted.stdout
        assert run_digests(target, str(artifacts)) == full
        assert _table_rows(url) == source_content["rows"]
        assert _files(artifacts) == source_content["files"]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    folder = tmp_path / "small"
    _api_runs(folder)
    return folder


def test_a_different_run_with_the_same_id_is_a_conflict_that_loses_nothing(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "target"
    assert migrate(small, target).copied == 6
    engine = create_engine(_sqlite_url(target))
    with engine.begin() as conn:
        changed = conn.execute(text("SELECT id FROM runs ORDER BY id LIMIT 1")).scalar_one()
        conn.execute(text("UPDATE runs SET name = 'edited' WHERE id = :i"), {"i": changed})
    engine.dispose()
    before = _table_rows(_sqlite_url(target))
    with pytest.raises(MigrationConflictError, match="different content") as caught:
        migrate(small, target)
    assert caught.value.run_ids == [changed]
    capsys.readouterr()
    assert main(["migrate", str(small), str(target)]) == 2
    err = capsys.readouterr().err
    assert "\nmodelboard migrate: error: 1 run(s) exist in both stores" in err, err
    assert f"modelboard rm --store {target} RUN" in err
    assert changed[:12] in err and "nothing was copied" in err and "modelboard rm" in err
    assert _table_rows(_sqlite_url(target)) == before


def test_artifact_files_missing_in_dst_are_named_as_the_difference(
    small: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    migrate(small, target)
    (copied,) = (target / "artifacts").glob("*/notes.txt")
    copied.unlink()
    with pytest.raises(MigrationConflictError, match="only the artifact files differ") as caught:
        migrate(small, target)
    assert caught.value.run_ids == [copied.parent.name]


def test_dry_run_lists_the_runs_and_writes_nothing(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "target"
    assert main(["migrate", str(small), str(target), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: 6 of 6 runs would be copied" in out and "with_artifacts" in out
    assert not target.exists()
    assert main(["migrate", str(small), str(target), "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] and len(report["to_copy"]) == 6 and report["copied"] == 0
    assert not target.exists()


def test_artifacts_go_to_another_root_given_as_an_fsspec_url(small: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    report = migrate(small, tmp_path / "target", destination_artifacts=f"file://{elsewhere}")
    assert report.ok and report.copied == 6
    assert _files(elsewhere) == _files(small / "artifacts") != {}
    assert not (tmp_path / "target" / "artifacts").exists()
    assert run_digests(tmp_path / "target", f"file://{elsewhere}") == run_digests(small)


LATER_SCHEMA = """
import json, sys
from sqlalchemy import Column, Float, Integer, String, Table, Text, create_engine, select
from modelboard.store import tables
searches = Table("searches", tables.metadata, Column("id", String(32), primary_key=True),
                 Column("created", Float))
trials = Table("trials", tables.metadata, Column("search_id", String(32), primary_key=True),
               Column("number", Integer, primary_key=True), Column("run_id", String(32)),
               Column("state", String(16)))
events = Table("search_events", tables.metadata, Column("id", Integer, primary_key=True),
               Column("what", Text))
tables.TABLES_BY_VERSION[2] = [*tables.TABLES_BY_VERSION[2], searches, trials, events]
import modelboard as mb
from modelboard.store.migrate import migrate
src, dst = sys.argv[1], sys.argv[2]
with mb.Tracker(src) as tracker:
    ids = [tracker.start_run(f"trial-{i}").id for i in range(2)]
engine = create_engine(f"sqlite:///{src}/modelboard.db")
with engine.begin() as conn:
    conn.execute(searches.insert(), [{"id": "s1", "created": 1.5}])
    conn.execute(trials.insert(), [
        {"search_id": "s1", "number": i, "run_id": ids[i] if i < 2 else None, "state": "x"}
        for i in range(3)])
    conn.execute(events.insert(), [{"what": f"e{i}"} for i in range(4)])
first, second = migrate(src, dst), migrate(src, dst)
rows = {}
for url in (f"sqlite:///{src}/modelboard.db", f"sqlite:///{dst}/modelboard.db"):
    with create_engine(url).connect() as conn:
        rows[url] = [sorted(map(list, conn.execute(select(t.c.search_id, t.c.number,
                     t.c.run_id)))) for t in (trials,)] + [
                     sorted(r[0] for r in conn.execute(select(events.c.what)))]
print(json.dumps({"counts": {c.table: [c.source, c.destination] for c in first.counts},
                  "ok": first.ok and second.ok, "copied": [first.copied, second.copied],
                  "loose": [first.loose_rows_copied, second.loose_rows_copied],
                  "same": len(set(map(json.dumps, rows.values()))) == 1}))
"""


def test_tables_a_later_schema_adds_are_copied_too(tmp_path: Path) -> None:
    # in a child process: the tables are added to the schema there only
    done = subprocess.run(
        [sys.executable, "-c", LATER_SCHEMA, str(tmp_path / "src"), str(tmp_path / "dst")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["same"], result
    assert result["copied"] == [2, 0]
    assert result["loose"] == [1 + 1 + 4, 0]  # a search, a trial without a run, 4 events
    counts = result["counts"]
    assert counts["searches"] == [1, 1] and counts["trials"] == [3, 3]
    assert counts["search_events"] == [4, 4]


def test_running_runs_are_copied_with_a_warning_or_skipped(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import modelboard as mb

    tracker = mb.Tracker(small)
    live = tracker.start_run("still_training")
    live.log(step=0, loss=1.0)
    live.flush()
    try:
        report = migrate(small, tmp_path / "skipping", skip_running=True)
        assert report.skipped_running == [live.id] and report.copied == 6 and report.ok
        capsys.readouterr()
        assert main(["migrate", str(small), str(tmp_path / "copying")]) == 0
        captured = capsys.readouterr()
        assert "7 runs copied" in captured.out
        assert "1 run(s) are still running" in captured.err
        assert live.id in run_digests(tmp_path / "copying")

        # it trains on: its copy is now out of date, a conflict unless running runs are skipped
        live.log(step=1, loss=0.5)
        live.flush()
        with pytest.raises(MigrationConflictError, match="--skip-running"):
            migrate(small, tmp_path / "copying")
        again = migrate(small, tmp_path / "copying", skip_running=True)
        assert again.ok and again.skipped_running == [live.id], again.to_dict()
        assert (again.copied, again.present) == (0, 6)
    finally:
        live.finish()
        tracker.close()


def test_a_source_older_than_this_modelboard_is_refused(tmp_path: Path) -> None:
    from modelboard.store.engine import make_engine
    from modelboard.store.migrations import create_schema_at_version

    old = tmp_path / "old"
    engine = make_engine(_sqlite_url(old))
    create_schema_at_version(engine, 1)
    engine.dispose()
    with pytest.raises(MigrationError, match="schema version 1"):
        migrate(old, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_an_artifact_row_that_leaves_its_run_folder_is_refused(small: Path, tmp_path: Path) -> None:
    engine = create_engine(_sqlite_url(small))
    with engine.begin() as conn:
        run_id = conn.execute(text("SELECT id FROM runs LIMIT 1")).scalar_one()
        conn.execute(
            tables.artifacts.insert().values(
                run_id=run_id, path="../../escape.txt", kind="file", size=1, created=0.0
            )
        )
    engine.dispose()
    with pytest.raises(MigrationError, match="leave the run's artifact folder"):
        migrate(small, tmp_path / "target")
    assert not list((tmp_path).glob("**/escape.txt"))


def test_an_artifact_link_that_leads_out_of_its_run_folder_is_refused(
    small: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not an artifact")
    (run_folder,) = [p for p in (small / "artifacts").iterdir() if (p / "notes.txt").exists()]
    (run_folder / "notes.txt").unlink()
    (run_folder / "notes.txt").symlink_to(secret)
    with pytest.raises(MigrationError, match="link that leads out of its run's folder"):
        migrate(small, tmp_path / "target")
    copied = tmp_path / "target" / "artifacts" / run_folder.name / "notes.txt"
    assert not copied.exists()
