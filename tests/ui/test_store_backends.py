"""The dashboard's pages on SQLite and PostgreSQL (served in-process, no browser)."""

from __future__ import annotations

import pytest

import modelboard as mb

pytest.importorskip("starlette")
pytest.importorskip("httpx")


@pytest.fixture
def client(any_store: str, plugin_manager):  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    from modelboard.ui.app import create_app

    ids = {}
    with mb.Tracker(any_store, plugin_manager=plugin_manager, announce=False) as tracker:
        for name, accuracy in (("alpha", 0.5), ("beta", 0.9), ("gamma", 0.7)):
            with tracker.start_run(name, hparams={"lr": accuracy / 10}) as run:
                for epoch in range(3):
                    run.log(epoch=epoch, loss=1 - accuracy * epoch / 3, val_accuracy=accuracy)
            ids[name] = run.id
    with TestClient(create_app(any_store)) as test_client:
        yield test_client, ids


def _names(html: str, ids: dict[str, str]) -> list[str]:
    found = sorted((html.find(f'data-run="{run_id}"'), name) for name, run_id in ids.items())
    return [name for position, name in found if position >= 0]


@pytest.mark.parametrize("any_store", ["sqlite", "postgresql"], indirect=True)
def test_sort_filter_and_run_page(client) -> None:  # type: ignore[no-untyped-def]
    test_client, ids = client
    best_first = test_client.get("/", params={"sort": "-val_accuracy"})
    assert best_first.status_code == 200
    assert _names(best_first.text, ids) == ["beta", "gamma", "alpha"]
    worst_first = test_client.get("/", params={"sort": "+val_accuracy"})
    assert _names(worst_first.text, ids) == ["alpha", "gamma", "beta"]
    narrowed = test_client.get("/", params={"where": "val_accuracy > 0.6"})
    assert sorted(_names(narrowed.text, ids)) == ["beta", "gamma"]
    bad = test_client.get("/", params={"where": "val_accuracy >"})
    assert 'id="filter-error"' in bad.text and "^" in bad.text
    page = test_client.get("/", params={"limit": 2})
    assert len(_names(page.text, ids)) == 2 and 'id="page-next"' in page.text
    run = test_client.get(f"/runs/{ids['beta'][:8]}")
    assert run.status_code == 200 and 'data-figure="curve-loss"' in run.text
    live = test_client.get(f"/api/runs/{ids['beta']}/live").json()
    assert live["status"] == "finished" and live["points"] == 6
    assert test_client.get("/runs/ffffffff").status_code == 404


@pytest.mark.parametrize("any_store", ["sqlite"], indirect=True)
def test_the_ui_never_writes_the_store(client, any_store: str) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    test_client, ids = client
    database = Path(any_store) / "modelboard.db"
    before = database.stat().st_mtime_ns, database.read_bytes()
    for path in ("/", f"/runs/{ids['alpha']}", f"/compare?runs={ids['alpha']}&runs={ids['beta']}"):
        assert test_client.get(path).status_code == 200
    assert (database.stat().st_mtime_ns, database.read_bytes()) == before
