"""Fixtures shared by every test module: fresh stores, a fresh plugin manager, PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest
from pg_databases import new_pg_database
from sample_runs import build_store

import modelboard as mb


def _load_triton_first() -> None:
    """Load triton's native library before any test imports TensorFlow.

    With tensorflow 2.21 and torch 2.14 on this platform, triton (which torch and torchvision
    load on demand) segfaults the process when it loads after TensorFlow, and works when it
    loads first. The suite runs both frameworks in one process, so it loads triton up front
    (0.2 s). ``modelboard`` itself imports neither framework, so this order is the user's.
    It runs when this file is imported: pytest imports ``tests/keras/conftest.py`` (which
    imports TensorFlow) before any ``pytest_configure`` when a Keras test is named directly.
    """
    import importlib.util

    if importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


_load_triton_first()


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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (see ``new_pg_database``)."""
    with new_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store location on each backend (PostgreSQL only where a server is given)."""
    if request.param == "sqlite":
        return str(tmp_path / "store")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A SQLite store of Keras-like and torch-like runs (``sample_runs.build_store``); the
    leaderboard tests override it to run on PostgreSQL too."""
    tracker, ids = build_store(tmp_path_factory.mktemp("store"))
    yield tracker, ids
    tracker.close()
