"""What each page shows, as template contexts: the leaderboard, a run, a comparison.

The same contexts feed the live server (``modelboard.ui.app``) and the report file
(``modelboard.ui.report``); only the ``Links`` differ (URLs there, anchors here).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from markupsafe import Markup

from modelboard.records import NetworkRecord
from modelboard.store import FilterError, StoredRun, count_runs, query_runs
from modelboard.store.columns import IDENTITY_COLUMNS, parse_json_text
from modelboard.store.query import column_resolver
from modelboard.ui import charts
from modelboard.ui.diagram import diagram_lines, diagram_svg_data_uri
from modelboard.ui.format import format_date, format_duration, format_number, format_value

__all__ = [
    "Links",
    "LeaderboardQuery",
    "PREFERRED_COLUMNS",
    "leaderboard_context",
    "run_context",
    "live_payload",
    "compare_context",
    "figures_json",
]

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: What the leaderboard shows when no columns are chosen (those the runs hold).
PREFERRED_COLUMNS = (
    *IDENTITY_COLUMNS,
    "optimizer",
    "batch_size",
    "epochs",
    "gradient_health",
    "val_accuracy",
    "val_precision_per_class",
    "val_recall_per_class",
    "val_loss",
    "loss",
)


class Links(Protocol):
    """Where a page links to: the server's URLs, or anchors inside the report."""

    def run(self, run_id: str) -> str: ...

    def artifact(self, run_id: str, path: str) -> str | None: ...


@dataclass
class LeaderboardQuery:
    """The leaderboard's request: sort, filter, columns and page (from the query string)."""

    sort: str = ""
    where: str = ""
    columns: list[str] = field(default_factory=list)
    offset: int = 0
    limit: int = PAGE_SIZE
    group: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> LeaderboardQuery:
        """Read ``sort``, ``where``, ``columns`` (comma-separated), ``offset``, ``limit`` and
        ``group`` (a column to group the rows by); numbers that are not numbers fall back to the
        defaults."""

        def number(name: str, default: int, top: int | None = None) -> int:
            try:
                value = max(0, int(params.get(name, default)))
            except (TypeError, ValueError):
                return default
            return min(value, top) if top is not None else value

        columns = [c.strip() for c in str(params.get("columns", "")).split(",") if c.strip()]
        return cls(
            sort=str(params.get("sort", "")).strip(),
            where=str(params.get("where", "")).strip(),
            columns=columns,
            offset=number("offset", 0),
            limit=number("limit", PAGE_SIZE, MAX_PAGE_SIZE) or PAGE_SIZE,
            group=str(params.get("group", "")).strip(),
        )

    def url(self, **change: Any) -> str:
        """``?...`` for this query with some parts changed."""
        values = {
            "sort": self.sort,
            "where": self.where,
            "columns": ",".join(self.columns),
            "offset": self.offset,
            "limit": self.limit,
            "group": self.group,
        }
        values.update(change)
        kept = {k: v for k, v in values.items() if v not in ("", None, 0) or k == "offset"}
        if kept.get("offset") == 0:
            kept.pop("offset")
        if kept.get("limit") == PAGE_SIZE:
            kept.pop("limit")
        return "?" + urlencode(kept)


def _cell(label: str, value: Any, run_id: str, links: Links) -> Markup | str:
    if label == "id":
        return Markup('<a href="{}" class="run-link">{}</a>').format(
            links.run(run_id), str(value)[:8]
        )
    if label == "name":
        return Markup('<a href="{}" class="run-link">{}</a>').format(links.run(run_id), value)
    if label == "framework" and value:
        return Markup('<span class="badge fw-{0}">{0}</span>').format(value)
    if label == "status" and value:
        return Markup('<span class="status st-{0}">{0}</span>').format(value)
    return format_value(label, value)


def _sort_state(sort: str) -> tuple[str, str]:
    """``(name, "asc" | "desc" | "")`` of the current single-column sort."""
    if not sort or "," in sort:
        return "", ""
    if sort[0] in "+-":
        return sort[1:].strip(), "desc" if sort[0] == "-" else "asc"
    return sort, ""


def leaderboard_context(
    tracker: Any, query: LeaderboardQuery, links: Links, *, paged: bool = True
) -> dict[str, Any]:
    """The leaderboard page: one page of runs sorted, filtered and paged in the database.

    A bad filter, sort or column gives ``error`` (message and caret pointer) and no rows.
    """
    store = tracker.store
    context: dict[str, Any] = {"query": query, "error": None, "rows": [], "labels": []}
    columns = list(query.columns)
    if query.group and columns and query.group not in columns:
        columns.insert(0, query.group)
    group_label: str | None = None
    try:
        if query.group:
            group_label = column_resolver(store).resolve(query.group).label
        sort: list[str] | None = [query.sort] if query.sort else None
        if query.group:  # the groups in order, each sorted as asked (best first by default)
            sort = [f"+{query.group}", *(sort or ["-created"])]
        page = query_runs(
            store,
            sort=sort,
            where=query.where or None,
            columns=columns or None,
            limit=query.limit if paged else None,
            offset=query.offset if paged else 0,
        )
        total = count_runs(store, where=query.where or None)
    except FilterError as exc:
        context["error"] = {"message": str(exc), "pointer": exc.pointer() if exc.text else ""}
        context.update(total=0, available=[], sort_links={}, pages={})
        return context
    labels = list(page.labels)
    if not query.columns:
        chosen = [label for label in PREFERRED_COLUMNS if label in labels]
        labels_shown = chosen or labels
    else:
        labels_shown = labels
    if group_label not in page.labels:
        group_label = None
    index = {label: i for i, label in enumerate(page.labels)}
    resolver = column_resolver(store)
    name, direction = _sort_state(query.sort)
    sort_links = {}
    arrows = {}
    for label in labels_shown:
        if label == name and direction:
            next_sort = ("+" if direction == "desc" else "-") + label
            arrows[label] = "▼" if direction == "desc" else "▲"
        else:
            try:
                column = resolver.resolve(label)
                descending = column.direction == "max" or column.run_field in (
                    "created",
                    "duration",
                )
            except FilterError:
                descending = False
            next_sort = ("-" if descending else "+") + label
        sort_links[label] = query.url(sort=next_sort, offset=0)
    rows: list[dict[str, Any]] = []
    previous: Any = object()
    for run_id, row in zip(page.ids, page.rows, strict=True):
        if group_label is not None:
            value = row[index[group_label]]
            if value != previous:
                rows.append({"group": format_value(group_label, value), "label": group_label})
                previous = value
        rows.append(
            {
                "id": run_id,
                "cells": [_cell(label, row[index[label]], run_id, links) for label in labels_shown],
            }
        )
    pages = {}
    if query.offset > 0:
        pages["previous"] = query.url(offset=max(0, query.offset - query.limit))
    if query.offset + query.limit < total:
        pages["next"] = query.url(offset=query.offset + query.limit)
    context.update(
        labels=labels_shown,
        rows=rows,
        total=total,
        available=labels,
        shown=set(labels_shown),
        sort_links=sort_links,
        arrows=arrows,
        pages=pages,
        first=query.offset + 1 if page.ids else 0,
        last=query.offset + len(page.ids),
        group=group_label or "",
    )
    return context


def figures_json(figures: Mapping[str, Any]) -> Markup:
    """Figures as JSON safe inside ``<script type="application/json">``: ``<``, ``>`` and
    ``&`` are written as ``\\u003c`` ..., so no stored text can close the element."""
    text = json.dumps(figures, separators=(",", ":"), allow_nan=False, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return format_number(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _run_summary(stored: StoredRun) -> list[tuple[str, Any]]:
    record = stored.run
    end = record.ended if record.ended is not None else record.heartbeat
    return [
        ("id", record.id),
        ("name", record.name),
        ("project", record.project),
        ("framework", f"{record.framework or ''} {record.framework_version or ''}".strip()),
        ("status", record.status),
        ("created", format_date(record.created)),
        ("ended", format_date(record.ended)),
        ("last heartbeat", format_date(record.heartbeat)),
        ("duration", format_duration(None if end is None else max(0.0, end - record.created))),
        ("parent", record.parent_id or ""),
        ("notes", record.notes or ""),
    ]


def _network_summary(network: NetworkRecord) -> dict[str, Any]:
    document = network.to_dict()
    for key in ("layers", "model_config", "schema_version"):
        document.pop(key, None)
    return _plain(document)


def _layer_rows(network: NetworkRecord) -> list[dict[str, Any]]:
    rows = []
    for layer in network.layers:
        rows.append(
            {
                "path": layer.path,
                "type": layer.type,
                "canonical": layer.canonical_type,
                "config": json.dumps(_plain(layer.canonical_config), default=str),
                "output_shape": "" if layer.output_shape is None else str(layer.output_shape),
                "trainable": layer.trainable_params,
                "non_trainable": layer.non_trainable_params,
                "depth": layer.depth,
                "container": layer.is_container,
            }
        )
    return rows


def _live_figures(stored: StoredRun) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, figure in charts.curve_figures(stored.training).items():
        figures[f"curve-{name}"] = figure
    lr = charts.learning_rate_figure(stored.training)
    if lr is not None:
        figures["lr"] = lr
    heatmap = charts.gradient_heatmap(stored.gradients)
    if heatmap is not None:
        figures["grad-heatmap"] = heatmap
    norm = charts.global_norm_figure(stored.gradients)
    if norm is not None:
        figures["grad-norm"] = norm
    return figures


def _gradient_flags(stored: StoredRun) -> dict[str, Any]:
    counts = {"vanishing": 0, "exploding": 0, "nonfinite": 0}
    for capture in stored.gradients:
        for flag, raised in capture.flags.items():
            if raised:
                counts[flag] = counts.get(flag, 0) + 1
    return {"captures": len(stored.gradients), "counts": counts}


def live_payload(stored: StoredRun) -> dict[str, Any]:
    """What a live page polls: the status, the points so far, and the figures that grow."""
    points = sum(len(s.values) for s in stored.training.metrics.values())
    return {
        "status": stored.run.status,
        "points": points,
        "captures": len(stored.gradients),
        "figures": _live_figures(stored),
    }


def _image(path: str) -> bool:
    return path.lower().rsplit(".", 1)[-1] in ("png", "jpg", "jpeg", "gif", "svg", "webp")


def run_context(stored: StoredRun, links: Links, *, diagram: bool = True) -> dict[str, Any]:
    """The run page: every record in sections, with its figures."""
    figures = _live_figures(stored)
    evaluations = []
    for split, evaluation in stored.evaluations.items():
        ids = {}
        for kind, figure in charts.evaluation_figures(evaluation).items():
            key = f"eval-{split}-{kind}"
            figures[key] = figure
            ids[kind] = key
        document = _plain(evaluation.to_dict())
        evaluations.append(
            {
                "split": split,
                "record": evaluation,
                "figures": ids,
                "metrics": {k: format_number(v) for k, v in (evaluation.metrics or {}).items()},
                "nulls": document.get("nulls") or {},
                "warnings": document.get("warnings") or [],
                "inputs": document.get("inputs") or {},
            }
        )
    network = stored.network
    network_context = None
    if network is not None:
        network_context = {
            "summary": _network_summary(network),
            "layers": _layer_rows(network),
            "svg": diagram_svg_data_uri(network) if diagram else None,
            "text": diagram_lines(network),
        }
    data_context = None
    if stored.data is not None:
        document = _plain(stored.data.to_dict())
        document.pop("schema_version", None)
        data_context = {
            "record": document,
            "splits": list((document.get("splits") or {}).values()),
        }
    artifacts = []
    for artifact in stored.artifacts:
        artifacts.append(
            {
                "path": artifact.path,
                "kind": artifact.kind,
                "size": artifact.size,
                "url": links.artifact(stored.id, artifact.path),
                "image": _image(artifact.path),
            }
        )
    record = stored.run
    return {
        "run": record,
        "label": f"{record.name}@{record.id[:8]}",
        "summary": _run_summary(stored),
        "tags": dict(record.tags or {}),
        "params": _plain(dict(record.params or {})),
        "error": _plain(record.error) if record.error else None,
        "flags": _plain(record.flags or {}),
        "curve_ids": [k for k in figures if k.startswith("curve-")],
        "figures": figures,
        "gradients": _gradient_flags(stored),
        "evaluations": evaluations,
        "network": network_context,
        "data": data_context,
        "environment": _plain(dict(record.environment or {})),
        "artifacts": artifacts,
        "live": record.status == "running",
    }


def _frame_rows(frame: Any, labels: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for field_name, row in frame.iterrows():
        values = []
        for label in labels:
            value = row[label]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                values.append("")
            else:
                values.append(format_value("", parse_json_text(value)))
        rows.append({"field": str(field_name), "values": values, "differs": bool(row["differs"])})
    rows.sort(key=lambda r: not r["differs"])  # differences first
    return rows


def _mean_norms(stored: StoredRun) -> dict[str, float]:
    """Mean L2 norm per layer path (the parameter name up to its last part)."""
    sums: dict[str, list[float]] = {}
    for capture in stored.gradients:
        for stats in capture.parameters:
            if stats.l2_norm is None or not math.isfinite(stats.l2_norm):
                continue
            layer = stats.name.rsplit(".", 1)[0] if "." in stats.name else stats.name
            layer = layer.rsplit("/", 1)[0] if "/" in layer else layer
            sums.setdefault(layer, []).append(float(stats.l2_norm))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def compare_context(runs: Sequence[StoredRun], links: Links) -> dict[str, Any]:
    """The compare page: sections with differences first, overlaid curves, the layer
    alignment with gaps marked, and gradient norms per aligned layer."""
    from modelboard.compare import compare_runs

    comparison = compare_runs(list(runs), show_identical=True)
    labels = comparison.labels
    sections = {
        name: _frame_rows(frame, labels)
        for name, frame in comparison.sections.items()
        if len(frame)
    }
    figures = {
        f"overlay-{name}": figure
        for name, figure in charts.overlay_figures([r.training for r in runs], labels).items()
    }
    layer_rows = []
    aligned_paths: list[list[str | None]] = []
    for _, row in comparison.layers.iterrows():
        cells = []
        paths: list[str | None] = []
        for label in labels:
            text = row[label]
            params = row[f"{label} params"]
            missing = text is None or (isinstance(text, float) and math.isnan(text))
            cells.append(
                {
                    "text": "" if missing else str(text),
                    "params": "" if missing or params is None else str(params),
                }
            )
            paths.append(None if missing else str(text).split(" ")[1])
        aligned_paths.append(paths)
        layer_rows.append({"type": row["type"], "cells": cells, "match": row["match"]})
    norms = [_mean_norms(r) for r in runs]

    def norm_of(path: str | None, run_norms: dict[str, float]) -> str | None:
        if path is None:
            return None
        for layer, _ in run_norms.items():
            if layer == path or layer.endswith(path) or path.endswith(layer):
                return layer
        return None

    mapped = [[norm_of(p, norms[r]) for r, p in enumerate(paths)] for paths in aligned_paths]
    row_names = [f"{i}: {row['type']}" for i, row in enumerate(layer_rows)]
    gradient = charts.gradient_compare_figure(mapped, norms, labels, row_names)
    if gradient is not None:
        figures["grad-compare"] = gradient
    return {
        "labels": labels,
        "runs": [
            {"id": r.id, "label": label, "url": links.run(r.id)}
            for r, label in zip(runs, labels, strict=True)
        ],
        "sections": sections,
        "layers": layer_rows,
        "figures": figures,
        "overlay_ids": [k for k in figures if k.startswith("overlay-")],
    }
