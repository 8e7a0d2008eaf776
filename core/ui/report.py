"""``modelboard report``: the dashboard's pages in one self-contained HTML file.

The leaderboard, an optional comparison and every selected run's page, with the CSS, the
page script and plotly.js inside the file, so that it opens offline and can be mailed.
plotly.js is stored gzip-compressed (base64) and unpacked by the browser's
``DecompressionStream``, which keeps the demo's twelve runs well under 5 MB. Images among the
artifacts are inlined while they fit ``image_budget`` bytes; the others are listed by name. The
images are read through the store's artifact store, so a remote root (``s3://...``) works too.
"""

from __future__ import annotations

import base64
import gzip
import mimetypes
import os
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from modelboard.errors import ArtifactPathError
from modelboard.store import select_run_ids
from modelboard.store.artifact_store import ArtifactStoreError
from modelboard.ui.format import format_date
from modelboard.ui.pages import LeaderboardQuery, compare_context, leaderboard_context, run_context
from modelboard.ui.render import STATIC_DIR, environment, plotly_js_path

if TYPE_CHECKING:
    from modelboard.tracking import Tracker

__all__ = ["write_report", "render_report", "MAX_REPORT_RUNS"]

MAX_REPORT_RUNS = 200
IMAGE_BUDGET = 600_000
_IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


class ReportLinks:
    """Links inside the report: runs are anchors, images are data URIs (within a budget)."""

    def __init__(self, tracker: Tracker, image_budget: int) -> None:
        self.tracker = tracker
        self.budget = image_budget

    def run(self, run_id: str) -> str:
        return f"#run-{run_id}"

    def artifact(self, run_id: str, path: str) -> str | None:
        if Path(path).suffix.lower() not in _IMAGES:
            return None
        artifacts = self.tracker.store.artifacts
        try:
            size = artifacts.size(run_id, path)
            if size is None or size > self.budget:
                return None
            data = artifacts.read_bytes(run_id, path)
        except (ArtifactPathError, ArtifactStoreError, OSError):
            return None
        self.budget -= len(data)
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


@lru_cache(maxsize=1)
def _plotly_gzip_base64() -> str:
    return base64.b64encode(gzip.compress(plotly_js_path().read_bytes(), 9, mtime=0)).decode()


def _inline_scripts() -> Markup:
    loader = (
        "window.modelboardReady=(async function(){"
        "var b=atob(document.getElementById('plotly-gz').textContent.trim());"
        "var a=new Uint8Array(b.length);for(var i=0;i<b.length;i++)a[i]=b.charCodeAt(i);"
        "var s=new Blob([a]).stream().pipeThrough(new DecompressionStream('gzip'));"
        "var t=await new Response(s).text();var e=document.createElement('script');"
        "e.textContent=t;document.head.appendChild(e);})();"
    )
    page_js = (STATIC_DIR / "ui.js").read_text(encoding="utf-8")
    return Markup(
        f'<script type="application/octet-stream" id="plotly-gz">{_plotly_gzip_base64()}'
        f"</script>\n<script>{loader}</script>\n<script>{page_js}</script>"
    )


def _selected_ids(
    tracker: Tracker, where: str | None, runs: Sequence[str] | None, sort: str | None
) -> list[str]:
    if runs:
        ids = [tracker.store.resolve_run_id(r) for r in runs]
        return list(dict.fromkeys(ids))
    return select_run_ids(tracker.store, where=where, sort=sort, limit=MAX_REPORT_RUNS)


def render_report(
    tracker: Tracker,
    *,
    where: str | None = None,
    runs: Sequence[str] | None = None,
    sort: str | None = None,
    compare: Sequence[str] | None = None,
    image_budget: int = IMAGE_BUDGET,
) -> str:
    """The report's HTML: the runs that match ``where`` (or the ``runs`` named), at most
    ``MAX_REPORT_RUNS``; ``compare`` (default: the ``runs`` named, when 2 to 8) adds a
    comparison. A bad filter raises ``FilterError``."""
    ids = _selected_ids(tracker, where, runs, sort)
    links = ReportLinks(tracker, image_budget)
    id_filter = "id in ({})".format(", ".join(f"'{i}'" for i in ids)) if ids else "id = ''"
    query = LeaderboardQuery(sort=sort or "", where=id_filter, limit=max(1, len(ids)))
    board = leaderboard_context(tracker, query, links, paged=False)
    if board["error"]:
        raise ValueError(board["error"]["message"])
    order = {run_id: i for i, run_id in enumerate(ids)}
    if not sort:
        board["rows"].sort(key=lambda row: order.get(row["id"], 0))
    stored = [tracker.get(run_id) for run_id in ids]
    if compare is None and runs and 2 <= len(ids) <= 8:
        compare = ids
    comparison = None
    if compare:
        chosen = [tracker.store.resolve_run_id(r) for r in compare]
        by_id = {s.id: s for s in stored}
        comparison = compare_context(
            [by_id[c] if c in by_id else tracker.get(c) for c in chosen], links
        )
    env = environment()
    return env.get_template("report.html").render(
        report=True,
        home_url="#leaderboard",
        store_label=tracker.location.describe(),
        inline_css=Markup((STATIC_DIR / "ui.css").read_text(encoding="utf-8")),
        inline_scripts=_inline_scripts(),
        written=format_date(time.time()) + " UTC",
        where=where or "",
        runs=[run_context(s, links) for s in stored],
        c=comparison,
        compare_action="#",
        **board,
    )


def write_report(
    out: str | os.PathLike[str],
    *,
    store: str | os.PathLike[str] | Tracker | None = None,
    where: str | None = None,
    runs: Sequence[str] | None = None,
    sort: str | None = None,
    compare: Sequence[str] | None = None,
) -> Path:
    """Write the report to ``out`` (parents created) and return its path; the store is opened
    read-only."""
    from modelboard.tracking import Tracker
    from modelboard.ui.app import open_store

    tracker = store if isinstance(store, Tracker) else open_store(store)
    try:
        html = render_report(tracker, where=where, runs=runs, sort=sort, compare=compare)
    finally:
        if tracker is not store:
            tracker.close()
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target
