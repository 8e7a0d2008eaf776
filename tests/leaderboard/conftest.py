"""A store with Keras-like and torch-like runs, shared by the leaderboard tests."""

from __future__ import annotations

import pytest
from sample_runs import build_store


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tracker, ids = build_store(tmp_path_factory.mktemp("store"))
    yield tracker, ids
    tracker.close()
