"""Creating SQLAlchemy engines: SQLite in WAL mode with a busy timeout, PostgreSQL as given."""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

__all__ = ["make_engine", "READ_ONLY", "SQLITE_BUSY_TIMEOUT_S"]

SQLITE_BUSY_TIMEOUT_S = 60.0
READ_ONLY = "modelboard_read_only"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level: modelboard emits BEGIN itself (see _begin_sqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        for attempt in range(50):
            try:
                mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
                break
            except Exception as exc:  # another process holds the lock while switching modes
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05 * (attempt + 1))
        if mode and str(mode[0]).lower() != "wal" and not _is_memory(dbapi_connection):
            raise RuntimeError(f"SQLite refused WAL mode (got {mode[0]!r}); is the folder on NFS?")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _is_memory(dbapi_connection: Any) -> bool:
    try:
        row = dbapi_connection.execute("PRAGMA database_list").fetchone()
        return not row[2]
    except Exception:
        return False


def _begin_sqlite(conn: Any) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE), so two processes never deadlock
    # upgrading read locks; readers use a deferred BEGIN and see a consistent WAL snapshot.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _create_private_file(database: Path) -> None:
    """A new store's folder (0700) and database file (0600) readable by their owner alone:
    records hold command lines, paths and host names. SQLite gives its -wal and -shm files the
    database file's permissions. An existing folder or file keeps the permissions it has."""
    import contextlib
    import os

    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not database.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _set_sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # A reader changes nothing in the file: no journal mode switch, no synchronous setting.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")


def make_engine(url: str, create: bool = True) -> Engine:
    """An engine for ``url``; for SQLite the folder is created and WAL is switched on.

    With ``create=False`` (read-only commands) nothing is created and no setting is written:
    the database file is left byte for byte as it was.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if create and parsed.database and parsed.database != ":memory:":
            _create_private_file(Path(parsed.database).expanduser())
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        event.listen(engine, "connect", _set_sqlite_pragmas if create else _set_sqlite_read_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    _dispose_in_forked_children(engine)
    return engine


_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for engine in list(_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def _dispose_in_forked_children(engine: Engine) -> None:
    """A forked child (DataLoader workers) must not reuse the parent's pooled connections."""
    _engines.add(engine)
