"""Throw-away PostgreSQL databases for tests, on the server named by MODELBOARD_TEST_PG."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

PG_ENV = "MODELBOARD_TEST_PG"


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@contextlib.contextmanager
def new_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the server named by MODELBOARD_TEST_PG; the test is
    skipped where none is given."""
    admin = _pg_admin_url()
    if admin is None:
        message = f"{PG_ENV} is not set: no PostgreSQL server to test against (.ci/run sets it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must test PostgreSQL, never skip it
        pytest.skip(message)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"mb_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
