"""``modelboard report``: one self-contained file that opens offline and draws every run."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelboard.cli import main

pytestmark = [pytest.mark.keras, pytest.mark.torch]


def test_the_report_opens_offline_and_draws_every_run(
    page, ui_store, tmp_path: Path, screenshots: Path, capsys
) -> None:
    out = tmp_path / "report.html"
    code = main(["report", "--store", str(ui_store.path), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert f"report: {out}" in capsys.readouterr().out
    assert out.stat().st_size < 5_000_000
    html = out.read_text(encoding="utf-8")
    assert "http://" not in html.split('id="plotly-gz"')[0].replace("http://www.w3.org", "")
    requests: list[str] = []

    def offline(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:  # no network: anything else the report asked for fails
            requests.append(url)
            route.abort()

    page.route("**/*", offline)
    page.goto(out.as_uri())
    for run_id in ui_store.ids:
        page.wait_for_selector(f'section[data-run="{run_id}"] [data-figure="curve-loss"] svg')
    keras = page.locator(f'section[data-run="{ui_store.keras}"]')
    assert keras.locator('[data-figure="grad-heatmap"] svg.main-svg').count() > 0
    assert keras.locator('[data-figure="eval-val-confusion"] svg.main-svg').count() > 0
    # leaderboard links are anchors inside the file
    href = page.locator(f'#runs-table tr[data-run="{ui_store.torch}"] a.run-link').first
    assert href.get_attribute("href") == f"#run-{ui_store.torch}"
    assert requests == []
    page.screenshot(path=str(screenshots / "report.png"))


def test_report_of_named_runs_compares_them(page, ui_store, tmp_path: Path) -> None:
    out = tmp_path / "two.html"
    runs = [ui_store.keras[:10], ui_store.torch[:10]]
    assert main(["report", "--store", str(ui_store.path), "--out", str(out), "--runs", *runs]) == 0
    page.goto(out.as_uri())
    page.wait_for_selector("#alignment")
    assert page.locator("section.run").count() == 2
    assert page.locator("#runs-table tbody tr").count() == 2


def test_report_with_a_bad_filter_says_where(ui_store, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bad.html"
    code = main(["report", "--store", str(ui_store.path), "--out", str(out), "--where", "loss >"])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad filter at position" in err and "^" in err
    assert not out.exists()
