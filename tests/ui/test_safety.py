"""Stored text is shown as text (in the ui and the report), and artifact URLs cannot leave a
run's artifact folder."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest
from conftest import INJECTED_NAME, INJECTED_TAG

pytestmark = [pytest.mark.keras, pytest.mark.torch]


def _injected_dom(page) -> None:  # type: ignore[no-untyped-def]
    assert page.locator("script", has_text="alert(1)").count() == 0
    assert page.locator("img[src=x]").count() == 0


def test_injected_name_and_tag_are_text_in_the_ui(page, server, ui_store) -> None:
    page.goto(server.url + "/?columns=name,tags.note")
    row = page.locator(f'#runs-table tr[data-run="{ui_store.injected}"]')
    assert INJECTED_NAME in row.inner_text()
    assert INJECTED_TAG in row.inner_text()
    _injected_dom(page)
    page.goto(f"{server.url}/runs/{ui_store.injected}")
    assert page.inner_text("h1.run-name").startswith(INJECTED_NAME)
    assert INJECTED_TAG in page.inner_text("table.tags")
    page.wait_for_selector('[data-figure="curve-loss"] svg.main-svg')
    _injected_dom(page)
    page.goto(f"{server.url}/compare?runs={ui_store.injected}&runs={ui_store.torch}")
    assert INJECTED_NAME in page.inner_text("#compare")
    _injected_dom(page)


def test_injected_text_is_text_in_the_report(page, ui_store, tmp_path: Path) -> None:
    from modelboard.ui.report import write_report

    out = write_report(tmp_path / "report.html", store=ui_store.path)
    page.goto(out.as_uri())
    page.wait_for_selector(f'section[data-run="{ui_store.injected}"] svg.main-svg')
    section = page.locator(f'section[data-run="{ui_store.injected}"]')
    assert section.locator("h1.run-name").inner_text().startswith(INJECTED_NAME)
    assert INJECTED_TAG in section.locator("table.tags").inner_text()
    _injected_dom(page)


def _get(server, path: str) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    """A request sent as written: no client normalises the dots or the escapes."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "tail",
    [
        "../../modelboard.db",
        "..%2f..%2fmodelboard.db",
        "%2e%2e/%2e%2e/modelboard.db",
        "%2e%2e%2f%2e%2e%2fmodelboard.db",
        "%252e%252e%252f%252e%252e%252fmodelboard.db",
        "..%5c..%5cmodelboard.db",
        "%2fetc%2fpasswd",
    ],
)
def test_artifact_traversal_is_refused(server, ui_store, tail: str) -> None:
    status, body = _get(server, f"/artifacts/{ui_store.keras}/{tail}")
    assert status in (403, 404), status
    assert not body.startswith(b"SQLite format")
    assert b"root:" not in body


def test_a_run_id_that_is_not_ours_is_refused(server) -> None:
    status, body = _get(server, "/artifacts/..%2f..%2f/modelboard.db")
    assert status in (403, 404)
    assert not body.startswith(b"SQLite format")


def test_a_real_artifact_is_served(server, ui_store) -> None:
    stored = server.app.state.tracker.get(ui_store.keras)
    images = [a.path for a in stored.artifacts if a.path.endswith(".png")]
    assert images, "the Keras run's evaluation wrote no plot"
    status, body = _get(server, f"/artifacts/{ui_store.keras}/{images[0]}")
    assert status == 200 and body.startswith(b"\x89PNG")
