"""Fixtures of the ui tests: one store of real tiny Keras and PyTorch runs per session, the
dashboard serving it on a free port, and Chromium driven by Playwright.

Every page a test opens is watched: a console error, an uncaught exception or a dialog
(``alert``) fails the test. Screenshots go to ``$MODELBOARD_UI_SCREENSHOTS`` or, by default,
``<pytest's temporary folder>/screenshots``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ui_runs import KERAS_SCRIPT, TORCH_SCRIPT, track

import modelboard as mb

for _module in ("starlette", "uvicorn", "jinja2", "plotly", "playwright"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(
            f"the ui tests need {_module} (pip install '.[ui,dev]')", allow_module_level=True
        )

CHROMIUM = os.environ.get("MODELBOARD_CHROMIUM", "/usr/bin/chromium")
INJECTED_NAME = "<script>alert(1)</script>"
INJECTED_TAG = '"><img src=x onerror=alert(2)>'
#: Runs read as crashed this long after their last heartbeat (the live tests kill one).
HEARTBEAT_TIMEOUT = 8.0


@dataclass
class UIStore:
    """The session's store and the ids of its runs."""

    path: Path
    keras: str
    torch: str
    injected: str
    ids: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> UIStore:
    for module in ("keras", "torch"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    path = tmp_path_factory.mktemp("ui") / "store"
    keras_id = track(KERAS_SCRIPT, path)
    torch_id = track(TORCH_SCRIPT, path)
    with mb.Tracker(path, announce=False) as tracker:
        with tracker.start_run(INJECTED_NAME, tags={"note": INJECTED_TAG}) as run:
            run.log(epoch=0, loss=0.5)
            run.log(epoch=1, loss=0.25)
        injected = run.id
    return UIStore(path, keras_id, torch_id, injected, [keras_id, torch_id, injected])


class Server:
    """The dashboard on a free port, served by uvicorn in a thread."""

    def __init__(self, store: Path) -> None:
        import uvicorn

        from modelboard.ui.app import create_app

        self.app = create_app(store, heartbeat_timeout=HEARTBEAT_TIMEOUT)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def server(ui_store: UIStore) -> Iterator[Server]:
    running = Server(ui_store.path)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """What a page reported: console errors, uncaught exceptions, dialogs."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def watched() -> Watched:
    return Watched()


@pytest.fixture
def page(browser: Any, watched: Watched) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))

    def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    context.close()
    assert watched.dialogs == [], f"a dialog opened: {watched.dialogs}"
    assert watched.errors == [], f"the browser console showed errors: {watched.errors}"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("MODELBOARD_UI_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.getbasetemp() / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
