"""The dashboard server: a Starlette app over a read-only store.

``create_app(store)`` returns the ASGI app; ``serve(...)`` runs it with uvicorn. Routes:
``/`` (leaderboard), ``/runs/<id>`` (a run), ``/api/runs/<id>/live`` (what a running run's page
polls), ``/compare?runs=A&runs=B``, ``/artifacts/<id>/<path>`` (confined to the run's artifact
folder or object-store prefix) and ``/static/...`` (the page's CSS and JS, and plotly.js from
the plotly package).
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from modelboard.errors import ArtifactPathError, ModelboardError
from modelboard.store.artifact_paths import requested_artifact_name
from modelboard.ui.pages import (
    LeaderboardQuery,
    compare_context,
    leaderboard_context,
    live_payload,
    run_context,
)
from modelboard.ui.render import STATIC_DIR, environment, plotly_js_path

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from modelboard.tracking import Tracker

__all__ = ["create_app", "open_store", "serve", "ServerLinks"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class ServerLinks:
    """Links between the server's pages."""

    def run(self, run_id: str) -> str:
        return f"/runs/{run_id}"

    def artifact(self, run_id: str, path: str) -> str | None:
        from urllib.parse import quote

        return f"/artifacts/{run_id}/{quote(path)}"


def open_store(
    store: str | os.PathLike[str] | None, heartbeat_timeout: float | None = None
) -> Tracker:
    """A read-only tracker: the ui never creates, migrates or writes a store."""
    import pluggy

    from modelboard.tracking import Tracker

    return Tracker(
        store,
        plugin_manager=pluggy.PluginManager("modelboard"),
        read_only=True,
        heartbeat_timeout=heartbeat_timeout,
    )


def create_app(
    store: str | os.PathLike[str] | Tracker | None = None,
    *,
    heartbeat_timeout: float | None = None,
) -> Starlette:
    """The dashboard's ASGI app on ``store`` (a folder, a URL or a read-only ``Tracker``)."""
    from starlette.applications import Starlette
    from starlette.responses import (
        FileResponse,
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        StreamingResponse,
    )
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from modelboard.tracking import Tracker

    tracker = store if isinstance(store, Tracker) else open_store(store, heartbeat_timeout)
    links = ServerLinks()
    env = environment()
    plotly_js = plotly_js_path()
    common = {
        "report": False,
        "home_url": "/",
        "store_label": tracker.location.describe(),
    }

    def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(**common, **context)
        return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)

    def message(title: str, text: str, status: int) -> HTMLResponse:
        return page("message.html", status, title=title, message=text)

    def leaderboard(request: Request) -> Response:
        query = LeaderboardQuery.from_params(request.query_params)
        context = leaderboard_context(tracker, query, links)
        # a bad filter is shown on the page, with its caret, as a normal answer
        return page("leaderboard.html", compare_action="/compare", **context)

    def run_page(request: Request) -> Response:
        try:
            stored = tracker.get(request.path_params["run_id"])
        except ModelboardError as exc:
            return message("run not found", str(exc), 404)
        return page(
            "run.html",
            r=run_context(stored, links),
            live_url=f"/api/runs/{stored.id}/live",
        )

    def live(request: Request) -> Response:
        try:
            stored = tracker.get(request.path_params["run_id"])
        except ModelboardError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        return JSONResponse(live_payload(stored), headers={"Cache-Control": "no-store"})

    def compare(request: Request) -> Response:
        wanted = [r for value in request.query_params.getlist("runs") for r in value.split(",")]
        wanted = [r.strip() for r in wanted if r.strip()]
        if len(wanted) < 2:
            return message("compare", "choose two or more runs to compare", 400)
        try:
            runs = [tracker.get(r) for r in wanted]
        except ModelboardError as exc:
            return message("run not found", str(exc), 404)
        return page("compare.html", c=compare_context(runs, links))

    def artifact(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        name = request.path_params["path"]
        artifacts = tracker.store.artifacts
        try:
            relative = requested_artifact_name(run_id, name)
            path = artifacts.local_path(run_id, relative)
        except ArtifactPathError as exc:
            return PlainTextResponse(f"refused: {exc}", status_code=403)
        if path is not None:
            if not path.is_file():
                return PlainTextResponse("no such artifact", status_code=404)
            return FileResponse(path, headers=_SECURITY_HEADERS)
        try:
            size = artifacts.size(run_id, relative)  # an object store: stream it from there
        except ModelboardError as exc:
            return PlainTextResponse(f"artifact store unavailable: {exc}", status_code=502)
        if size is None:
            return PlainTextResponse("no such artifact", status_code=404)
        kind = mimetypes.guess_type(relative)[0] or "application/octet-stream"
        return StreamingResponse(
            artifacts.iter_bytes(run_id, relative), media_type=kind, headers=_SECURITY_HEADERS
        )

    def plotly(request: Request) -> Response:
        return FileResponse(plotly_js, media_type="text/javascript")

    routes = [
        Route("/", leaderboard),
        Route("/runs/{run_id}", run_page),
        Route("/api/runs/{run_id}/live", live),
        Route("/compare", compare),
        Route("/artifacts/{run_id}/{path:path}", artifact),
        Route("/static/plotly.min.js", plotly),
        # follow_symlink: an editable install lays the package out as links to the sources
        Mount(
            "/static",
            app=StaticFiles(directory=str(STATIC_DIR), follow_symlink=True),
            name="static",
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        tracker.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.tracker = tracker
    return app


def serve(
    store: str | os.PathLike[str] | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
) -> None:
    """Run the dashboard until interrupted (binds ``127.0.0.1`` unless told otherwise)."""
    import uvicorn

    app = create_app(store)
    url = f"http://{host}:{port}/"
    print(f"modelboard ui on {url} (store: {app.state.tracker.location.describe()})")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
