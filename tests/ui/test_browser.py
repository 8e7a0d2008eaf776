"""The dashboard in Chromium: leaderboard sort and filter, a run's figures, compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.keras, pytest.mark.torch]


def _column(page: Any, label: str) -> list[str]:
    labels = page.locator("#runs-table thead th").all_inner_texts()
    index = [text.split(" ")[0] for text in labels].index(label)
    return page.locator(f"#runs-table tbody tr td:nth-child({index + 1})").all_inner_texts()


def test_a_header_click_sorts_the_leaderboard(page, server, ui_store, screenshots: Path) -> None:
    page.goto(server.url + "/")
    names = _column(page, "name")
    assert len(names) >= 3
    page.click("#runs-table thead th[data-column=name] a")
    page.wait_for_url("**sort=*name*")
    first = _column(page, "name")
    assert first in (sorted(names), sorted(names, reverse=True))
    page.click("#runs-table thead th[data-column=name] a")
    page.wait_for_url("**sort=*name*")
    second = _column(page, "name")
    assert second == list(reversed(first)) and second != first
    page.screenshot(path=str(screenshots / "leaderboard.png"), full_page=True)


def test_a_filter_narrows_the_rows_and_a_bad_filter_shows_its_message(page, server) -> None:
    page.goto(server.url + "/")
    everything = page.locator("#runs-table tbody tr").count()
    page.fill("#where", "framework = 'torch'")
    page.press("#where", "Enter")
    page.wait_for_url("**where=*")
    rows = page.locator("#runs-table tbody tr")
    assert 0 < rows.count() < everything
    assert set(_column(page, "framework")) == {"torch"}

    page.fill("#where", "val_accuracy >")
    page.press("#where", "Enter")
    page.wait_for_selector("#filter-error")
    message = page.inner_text("#filter-error")
    assert "bad filter at position" in message and "^" in message
    assert page.locator("#runs-table").count() == 0


def test_the_column_chooser_shows_the_chosen_columns(page, server) -> None:
    page.goto(server.url + "/")
    page.click("#column-chooser summary")
    for box in page.locator("input.column-choice").all():
        if box.get_attribute("value") not in ("name", "val_accuracy"):
            box.uncheck()
        else:
            box.check()
    page.click("#columns-apply")
    page.wait_for_url("**columns=*")
    headers = [t.split(" ")[0] for t in page.locator("#runs-table thead th").all_inner_texts()]
    assert headers[1:] == ["name", "val_accuracy"]


def _svg_count(page: Any, key: str) -> int:
    return page.locator(f'[data-figure="{key}"] svg.main-svg').count()


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_a_run_page_shows_curves_gradients_and_confusion_matrix(
    page, server, ui_store, screenshots: Path, framework: str
) -> None:
    run_id = getattr(ui_store, framework)
    page.goto(server.url + "/")
    page.click(f'#runs-table tr[data-run="{run_id}"] a.run-link >> nth=0')
    page.wait_for_url(f"**/runs/{run_id}")
    page.wait_for_selector('[data-figure="eval-val-confusion"] svg.main-svg')
    for key in ("curve-loss", "curve-accuracy", "grad-heatmap", "grad-norm", "eval-val-confusion"):
        assert _svg_count(page, key) > 0, key
    # train and val overlaid on one chart
    traces = page.evaluate(
        "() => document.querySelector('[data-figure=\"curve-loss\"]').data.map(t => t.name)"
    )
    assert traces == ["loss", "val_loss"]
    # the confusion matrix holds the record's counts: they sum to the evaluated samples
    total = page.evaluate(
        "() => document.querySelector('[data-figure=\"eval-val-confusion\"]').data[0].z"
        ".flat().reduce((a, b) => a + b, 0)"
    )
    samples = page.locator("h3", has_text="split val").inner_text()
    assert f"{total} samples" in samples
    assert page.locator("img.diagram, pre.diagram-text").count() == 1
    page.screenshot(path=str(screenshots / f"run_{framework}.png"), full_page=True)


def test_compare_shows_both_runs_and_the_layer_alignment(
    page, server, ui_store, screenshots: Path
) -> None:
    page.goto(server.url + "/")
    for run_id in (ui_store.keras, ui_store.torch):
        page.check(f'#runs-table tr[data-run="{run_id}"] input[name=runs]')
    page.click("#compare-button")
    page.wait_for_url("**/compare?*")
    links = page.locator("#compare a.run-link").all_inner_texts()
    assert any(text.startswith("keras_tiny@") for text in links)
    assert any(text.startswith("torch_tiny@") for text in links)
    rows = page.locator("#alignment tbody tr")
    types = page.locator("#alignment tbody tr td:nth-child(2)").all_inner_texts()
    assert rows.count() >= 3 and "conv2d" in types and "dense" in types
    # the Keras Conv2D and the torch Conv2d share a row
    conv = page.locator("#alignment tbody tr", has=page.locator("td", has_text="Conv2D"))
    assert "Conv2d" in conv.inner_text()
    page.wait_for_selector('[data-figure="overlay-loss"] svg.main-svg')
    overlaid = page.evaluate(
        "() => document.querySelector('[data-figure=\"overlay-loss\"]').data.length"
    )
    assert overlaid == 2
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)
