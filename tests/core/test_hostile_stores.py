"""Artifact names and stored run ids never reach outside the artifact root (issue 12, 5 and 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import modelboard as mb
from modelboard.store.artifact_paths import requested_artifact_path


def test_artifact_names_that_leave_the_run_folder_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "model.txt"
    source.write_text("weights")
    with mb.Tracker(tmp_path / "store") as tracker:
        run = tracker.start_run("escape")
        database = tmp_path / "store" / "modelboard.db"
        before = database.read_bytes()
        for name in (
            "../../modelboard.db",
            "../other/x.txt",
            str(tmp_path / "abs.txt"),
            "a/../..",
            "",
        ):
            with pytest.raises(mb.ArtifactPathError):
                run.log_artifact(source, name=name or "/")
        assert not (tmp_path / "abs.txt").exists()
        good = run.log_artifact(source, name="nested/model.txt")
        run.finish()
        assert good.path == "nested/model.txt"
        assert [a.path for a in tracker.get(run.id).artifacts] == ["nested/model.txt"]
    assert database.stat().st_size >= len(before) // 2  # the store was not overwritten
    with mb.Tracker(tmp_path / "store") as tracker:
        assert [r.name for r in tracker.runs()] == ["escape"]


@pytest.mark.parametrize(
    "name", ["../../modelboard.db", "..%2F..%2Fmodelboard.db", "%2e%2e/%2e%2e/x", "%252e%252e/x"]
)
def test_artifact_requests_are_confined_after_decoding(tmp_path: Path, name: str) -> None:
    with pytest.raises(mb.ArtifactPathError):
        requested_artifact_path(tmp_path, "0" * 32, name)
    assert requested_artifact_path(tmp_path, "0" * 32, "plots/a.png") == (
        tmp_path.resolve() / ("0" * 32) / "plots" / "a.png"
    )


def _crafted_store(tmp_path: Path, url: str | None = None) -> tuple[str, Path]:
    """A real store (SQLite, or PostgreSQL at ``url``) with one honest run and a row whose id
    is ``../../victim``, pointing from the artifact root at a folder beside the store."""
    store = tmp_path / "store"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    location = url or str(store)
    with mb.Tracker(location, artifact_root=store / "artifacts") as tracker:
        run = tracker.start_run("honest")
        run.log(loss=1.0)
        run.finish()
    engine = create_engine(url or f"sqlite:///{store / 'modelboard.db'}")
    with engine.begin() as conn:
        row = (
            conn.execute(text("SELECT * FROM runs WHERE id = :id"), {"id": run.id}).mappings().one()
        )
        record = json.loads(row["record"])
        record["id"] = "../../victim"
        values = {**row, "id": "../../victim", "record": json.dumps(record)}
        columns = ", ".join(values)
        conn.execute(
            text(f"INSERT INTO runs ({columns}) VALUES ({', '.join(':' + c for c in values)})"),
            values,
        )
    engine.dispose()
    return location, victim


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_crafted_run_id_never_deletes_outside_the_store(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    store, victim = _crafted_store(tmp_path, url)
    with mb.Tracker(store, artifact_root=tmp_path / "store" / "artifacts") as tracker:
        tracker.delete("../../victim")
        assert "../../victim" not in tracker.store.known_run_ids()
    assert (victim / "precious.txt").read_text() == "keep me"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from modelboard.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_rm_and_gc_on_a_crafted_store_leave_the_victim_and_tell_the_truth(tmp_path: Path) -> None:
    location, victim = _crafted_store(tmp_path)
    store = Path(location)
    done = _cli("rm", "../../victim", "--store", str(store), "--yes", "--force")
    assert done.returncode == 0, done.stderr
    assert (victim / "precious.txt").exists()
    (store / "artifacts" / ("a" * 32)).mkdir(parents=True)  # an orphan folder gc may remove
    done = _cli("gc", "--store", str(store), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["removed"] == ["a" * 32] and report["failed"] == []
    assert not (store / "artifacts" / ("a" * 32)).exists()
    assert (victim / "precious.txt").exists()
