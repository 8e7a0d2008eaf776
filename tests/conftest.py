"""Fixtures shared by every test module: fresh stores, a fresh plugin manager, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import modelboard as mb
import pluggy
import pytest

PG_ENV = "MODELBOARD_TEST_PG"


def pytest_configure(config: pytest.Config) -> None:
    """Load triton's native library before any test imports TensorFlow.

    With tensorflow 2.21 and torch 2.14 on this platform, triton (which torch and torchvision
    load on demand) segfaults the process when it loads after TensorFlow, and works when it
    loads first. The suite runs both frameworks in one process, so it loads triton up front
    (0.2 s). ``modelboard`` itself imports neither framework, so this order is the user's.
    """
    import importlib.util

    if importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    """A new plugin manager with the installed adapters, not shared with other tests."""
    return mb.create_plugin_manager()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A folder for a new embedded store."""
    return tmp_path / "store"


@pytest.fixture
def tracker(store_path: Path, plugin_manager: pluggy.PluginManager) -> Iterator[mb.Tracker]:
    """A tracker on a new SQLite store."""
    with mb.Tracker(store_path, plugin_manager=plugin_manager) as t:
        yield t


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database on the server named by MODELBOARD_TEST_PG."""
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"{PG_ENV} is not set: no PostgreSQL server to test against (.ci/run sets it)")
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


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store location on each backend (PostgreSQL only where a server is given)."""
    if request.param == "sqlite":
        return str(tmp_path / "store")
    return str(request.getfixturevalue("pg_url"))
