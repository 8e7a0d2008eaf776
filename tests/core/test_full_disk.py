"""A full disk: clear errors for API calls, the heartbeat goes on, bounded chunks are written
once space returns, and what cannot be written goes to the journal (issue 12, item 4).

The disk is a real, small tmpfs where the tests may mount one (root); otherwise SQLite's own
size limit (``PRAGMA max_page_count``) makes the store refuse growth, also a real refusal."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

import modelboard as mb
from modelboard.errors import StoreWriteError
from modelboard.store.journal import journal_path


class FullDisk:
    """Fill and free the filesystem (or the SQLite file's size limit) of a store."""

    def __init__(self, folder: Path, mounted: bool) -> None:
        self.folder, self.mounted = folder, mounted
        self.tracker: mb.Tracker | None = None
        self._limit: int | None = None

    def fill(self) -> None:
        if self.mounted:
            # unbuffered: no bytes left over for close() to fail on once the disk is full
            filler = open(self.folder / "filler", "wb", buffering=0)  # noqa: SIM115
            with filler as out, contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
        else:
            assert self.tracker is not None
            engine = self.tracker.store.engine
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
            with engine.connect() as conn:
                pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
            self._limit = int(pages or 1)
            event.listen(engine, "connect", self._cap)
            engine.dispose()  # every new connection gets the limit; then use up the free space
            with contextlib.suppress(Exception):
                for _ in range(10000):
                    with engine.begin() as conn:
                        conn.exec_driver_sql("INSERT INTO filler VALUES (zeroblob(512))")

    def _cap(self, dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {self._limit}")  # type: ignore[attr-defined]

    def free(self) -> None:
        if self.mounted:
            (self.folder / "filler").unlink()
        else:
            assert self.tracker is not None
            engine = self.tracker.store.engine
            event.remove(engine, "connect", self._cap)
            engine.dispose()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[FullDisk]:
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0 and not os.environ.get("MODELBOARD_TEST_NO_TMPFS"):
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], capture_output=True
        )
        mounted = done.returncode == 0
    try:
        yield FullDisk(folder, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_gives_clear_errors_and_loses_nothing_once_space_returns(
    disk: FullDisk, tmp_path: Path
) -> None:
    store = disk.folder / "store"
    tracker = mb.Tracker(store, artifact_root=tmp_path / "elsewhere" / "artifacts")
    disk.tracker = tracker
    run = tracker.start_run("full")
    for step in range(1000):
        run.log(step=step, loss=float(step))
    run.flush()
    disk.fill()
    for step in range(1000, 30000):
        run.log(step=step, loss=float(step))  # training goes on: logging never raises
    with pytest.raises(StoreWriteError, match="could not take the write") as refused:
        run.set_tags(phase="full")
    assert not refused.value.refused_values
    with pytest.raises(StoreWriteError, match="journal") as at_finish:
        run.finish()
    assert "could not take the write" in str(at_finish.value)
    assert journal_path(tracker.store, run.id).exists()
    disk.free()
    run.finish()  # space is back: the journal is written and the run ends
    assert not journal_path(tracker.store, run.id).exists()
    stored = tracker.get(run.id)
    assert stored.status == "finished"
    assert stored.run.tags == {"phase": "full"}
    assert stored.training.metrics["loss"].steps == list(range(30000))
    tracker.close()


def test_a_journal_left_by_a_run_is_replayed_when_the_next_run_starts(
    disk: FullDisk, tmp_path: Path
) -> None:
    store = disk.folder / "store"
    tracker = mb.Tracker(store, artifact_root=tmp_path / "elsewhere" / "artifacts")
    disk.tracker = tracker
    run = tracker.start_run("first")
    run.log(step=0, loss=1.0)
    run.flush()
    disk.fill()
    for step in range(1, 5000):
        run.log(step=step, loss=0.5)
    with pytest.raises(StoreWriteError, match="journal"):
        run.finish()
    disk.free()
    tracker.start_run("second").finish()  # replays the first run's journal
    stored = tracker.get(run.id)
    assert stored.status == "finished"
    assert stored.training.metrics["loss"].values == [1.0] + [0.5] * 4999
    tracker.close()
