"""The leaderboard groups its rows by any column, in the database's order (no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import modelboard as mb

pytest.importorskip("starlette")


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    from modelboard.ui.app import create_app

    with mb.Tracker(tmp_path / "s", announce=False) as tracker:
        for framework, accuracy in (("torch", 0.7), ("keras", 0.9), ("torch", 0.8), ("keras", 0.6)):
            run = tracker.start_run(f"{framework}-{accuracy}", framework=framework)
            run.log(val_accuracy=accuracy)
            run.finish()
    with TestClient(create_app(tmp_path / "s")) as test_client:
        yield test_client


def _groups_and_names(page: str) -> list[str]:
    found = re.findall(
        r'class="group-row"><th[^>]*>([^<]+)</th>|class="run-link">([a-z]+-0\.\d)<', page
    )
    return [group.strip() or name for group, name in found]


def test_group_by_framework_orders_groups_and_sorts_within(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/", params={"group": "framework", "sort": "-val_accuracy"})
    assert page.status_code == 200
    assert _groups_and_names(page.text) == [
        "framework = keras",
        "keras-0.9",
        "keras-0.6",
        "framework = torch",
        "torch-0.8",
        "torch-0.7",
    ]


def test_an_unknown_group_column_is_a_message_not_an_error_page(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/", params={"group": "no_such_column"})
    assert page.status_code == 200
    assert 'id="filter-error"' in page.text and "no_such_column" in page.text
    assert "group-row" not in page.text
