"""Creating and upgrading a store's schema, safely when many processes open it at once.

The whole check-and-migrate runs in one write transaction: on SQLite ``BEGIN IMMEDIATE``
serialises the processes, on PostgreSQL a transaction-scoped advisory lock does. A store whose
version is newer than ``STORE_SCHEMA_VERSION`` is refused with ``StoreVersionError``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.engine import Engine

from modelboard.errors import StoreUnavailableError, StoreVersionError
from modelboard.store import tables
from modelboard.store.engine import READ_ONLY as READ_ONLY_OPTION
from modelboard.store.tables import STORE_SCHEMA_VERSION, TABLES_BY_VERSION

__all__ = ["ensure_schema", "create_schema_at_version", "read_schema_version", "MIGRATIONS"]

_PG_LOCK_KEY = 0x6D6F64656C  # "model"


def _create_tables(conn: Connection, version: int) -> None:
    for table in TABLES_BY_VERSION[version]:
        table.create(conn, checkfirst=True)
    if version == 4:  # the summaries' triggers come with their tables
        from modelboard.store.run_summary import create_triggers

        create_triggers(conn)


def _migrate_to_2(conn: Connection) -> None:
    """Version 2 adds ``run_values`` and fills it from the runs and metrics already stored."""
    from modelboard.store.run_values import rebuild_run_values

    _create_tables(conn, 2)
    run_ids = [row[0] for row in conn.execute(select(tables.runs.c.id))]
    rebuild_run_values(conn, run_ids)


def _migrate_to_3(conn: Connection) -> None:
    """Version 3 adds ``search_trials`` (hyperparameter searches); older stores hold none."""
    _create_tables(conn, 3)


def _migrate_to_4(conn: Connection) -> None:
    """Version 4 adds ``run_summaries`` and ``summary_layouts`` (with the triggers that keep
    them exact) and writes the summary of every run already stored."""
    from modelboard.store.run_summary import build_summaries

    _create_tables(conn, 4)
    build_summaries(conn)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _migrate_to_2,
    3: _migrate_to_3,
    4: _migrate_to_4,
}


def read_schema_version(conn: Connection) -> int | None:
    """The store's schema version, or ``None`` for a store with no schema yet."""
    if not inspect(conn).has_table(tables.meta.name):
        return None
    row = conn.execute(
        select(tables.meta.c.value).where(tables.meta.c.key == "schema_version")
    ).first()
    return int(row[0]) if row else None


def _write_version(conn: Connection, version: int, existed: bool) -> None:
    if existed:
        conn.execute(
            tables.meta.update()
            .where(tables.meta.c.key == "schema_version")
            .values(value=str(version))
        )
    else:
        conn.execute(tables.meta.insert().values(key="schema_version", value=str(version)))


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def ensure_schema(engine: Engine, description: str) -> int:
    """Create a new store's tables or migrate an older one; return the version now in force."""
    with engine.begin() as conn:
        _lock(conn)
        version = read_schema_version(conn)
        if version is None:
            for step in sorted(TABLES_BY_VERSION):
                _create_tables(conn, step)
            _write_version(conn, STORE_SCHEMA_VERSION, existed=False)
            return STORE_SCHEMA_VERSION
        if version > STORE_SCHEMA_VERSION:
            raise StoreVersionError(
                f"the store at {description} has schema version {version}, written by a newer "
                f"modelboard; this one reads up to version {STORE_SCHEMA_VERSION}. "
                "Upgrade modelboard (pip install -U modelboard) or use another store."
            )
        for step in range(version + 1, STORE_SCHEMA_VERSION + 1):
            MIGRATIONS[step](conn)
        if version != STORE_SCHEMA_VERSION:
            _write_version(conn, STORE_SCHEMA_VERSION, existed=True)
        return STORE_SCHEMA_VERSION


def check_schema(engine: Engine, description: str) -> int:
    """The schema version of an existing store, read without writing anything.

    ``StoreUnavailableError`` for a database with no modelboard schema (empty, or another
    application's tables, which are named and left unchanged) and for one that needs a
    migration (a writing command migrates it); ``StoreVersionError`` for a newer store.
    """
    with engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as conn:
        version = read_schema_version(conn)
        names = sorted(inspect(conn).get_table_names()) if version is None else []
    if version is None:
        if names:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise StoreUnavailableError(
                f"the database at {description} is not a modelboard store: it holds other "
                f"tables ({shown}); it was left unchanged. Point --store at a modelboard store"
            )
        raise StoreUnavailableError(
            f"no modelboard store at {description}; pass --store FOLDER_OR_URL or set "
            "MODELBOARD_URI (a tracked run creates ./.modelboard)"
        )
    if version > STORE_SCHEMA_VERSION:
        raise StoreVersionError(
            f"the store at {description} has schema version {version}, written by a newer "
            f"modelboard; this one reads up to version {STORE_SCHEMA_VERSION}. "
            "Upgrade modelboard (pip install -U modelboard) or use another store."
        )
    if version < STORE_SCHEMA_VERSION:
        raise StoreUnavailableError(
            f"the store at {description} has schema version {version} and needs migrating to "
            f"{STORE_SCHEMA_VERSION}; a read-only command does not migrate: open it once with "
            "mb.Tracker(...) or track a run, then read it"
        )
    return version


def create_schema_at_version(engine: Engine, version: int) -> None:
    """Create a new store exactly as modelboard's schema ``version`` made it (for tests)."""
    with engine.begin() as conn:
        _lock(conn)
        for step in range(1, version + 1):
            _create_tables(conn, step)
        _write_version(conn, version, existed=False)
