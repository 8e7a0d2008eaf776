"""Live pages: a running run's page gains points while another process logs; a run whose
process dies is shown as crashed and the page stops updating."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from ui_runs import start_logging

pytestmark = [pytest.mark.keras, pytest.mark.torch]

POINTS = "() => document.querySelector('[data-figure=\"curve-loss\"]').data[0].x.length"


def test_a_live_page_gains_points_while_a_run_logs(page, server, ui_store, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    process, run_id = start_logging(ui_store.path, stop)
    try:
        page.goto(f"{server.url}/runs/{run_id}")
        section = page.locator(f'section[data-run="{run_id}"]')
        assert section.get_attribute("data-status") == "running"
        # wait until the first points are drawn, then until more arrive without a reload
        page.wait_for_function(
            "() => document.querySelector('[data-figure=\"curve-loss\"] svg.main-svg')",
            timeout=60_000,
        )
        first = page.evaluate(POINTS)
        page.wait_for_function(f"() => ({POINTS})() > {first}", timeout=60_000)
        navigations = page.evaluate("() => performance.getEntriesByType('navigation').length")
        assert navigations == 1  # the same document: no reload
        stop.write_text("stop")
        assert process.wait(timeout=120) == 0
        page.wait_for_function(
            f"() => document.querySelector('section[data-run=\"{run_id}\"]')"
            ".getAttribute('data-status') === 'finished'",
            timeout=60_000,
        )
        assert "no more updates" in page.inner_text("[data-role=live-note]")
    finally:
        stop.write_text("stop")
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)


def test_a_crashed_run_stops_updating_and_says_so(page, server, ui_store, tmp_path: Path) -> None:
    process, run_id = start_logging(ui_store.path, tmp_path / "never")
    try:
        page.goto(f"{server.url}/runs/{run_id}")
        page.wait_for_function(
            "() => document.querySelector('[data-figure=\"curve-loss\"] svg.main-svg')",
            timeout=60_000,
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        page.wait_for_function(
            f"() => document.querySelector('section[data-run=\"{run_id}\"]')"
            ".getAttribute('data-status') === 'crashed'",
            timeout=90_000,
        )
        assert "crashed" in page.inner_text("[data-role=live-note]")
        assert "crashed" in page.inner_text("[data-role=status]")
        # polling stopped: no request for the live endpoint once crashed was seen
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url) if "/live" in r.url else None)
        page.wait_for_timeout(4000)
        assert requests == []
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
