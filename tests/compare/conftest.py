"""A store with Keras-like and torch-like runs (built by tests/leaderboard/sample_runs.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))

from sample_runs import build_store  # noqa: E402


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tracker, ids = build_store(tmp_path_factory.mktemp("store"))
    yield tracker, ids
    tracker.close()
