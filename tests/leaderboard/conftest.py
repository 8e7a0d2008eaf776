"""A store with Keras-like and torch-like runs, shared by the leaderboard tests, on SQLite and on
PostgreSQL (where MODELBOARD_TEST_PG names a server)."""

from __future__ import annotations

import pytest
from pg_databases import new_pg_database
from sample_runs import build_store


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sample(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("store")
    if request.param == "sqlite":
        tracker, ids = build_store(folder)
        yield tracker, ids
        tracker.close()
        return
    with new_pg_database() as url:
        tracker, ids = build_store(folder, url)
        yield tracker, ids
        tracker.close()
