"""``modelboard ls`` as the honest leaderboard: one table per comparability group, seeds
aggregated, ties marked (``modelboard.leaderboard.ranking``); and metric headers that say
where their values come from."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from modelboard.store import FilterError, column_resolver

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from modelboard.leaderboard.ranking import RankedBoard
    from modelboard.store import SQLStore
    from modelboard.tracking import Tracker

__all__ = ["add_ls_options", "ls_comparable", "source_labels", "group_title", "group_table"]


def add_ls_options(parser: argparse.ArgumentParser) -> None:
    """``--all`` and ``--group-by`` of ``modelboard ls``."""
    parser.add_argument(
        "--all",
        action="store_true",
        help="the flat list of every run, one row each, ranked on one list (the old ls)",
    )
    parser.add_argument(
        "--group-by",
        metavar="COLUMNS",
        help="comma-separated columns whose equal values make one entry (default: runs that "
        "differ only in their seed); with --json prints the entries",
    )


def source_labels(store: SQLStore, labels: list[str]) -> list[str]:
    """Headers for the flat table: metric columns say ``(evaluation)``, ``(last logged)``,
    ``(best logged)``... (``modelboard.leaderboard.ranking.source_label``)."""
    from modelboard.leaderboard.ranking import source_label

    resolver = column_resolver(store)
    out = []
    for label in labels:
        try:
            column = resolver.resolve(label)
        except FilterError:
            column = None
        out.append(source_label(label, column))
    return out


def group_title(group: dict[str, Any]) -> str:
    """One group's header: its number, data name, fingerprint prefix, task and metric."""
    data = group["data_name"] or "data unnamed"
    if group.get("split"):
        data = f"{data} {_text(group['split'])}"
    task = str(group["task"]).split(":")
    task_text = task[0] if len(task) < 2 else f"{task[0]}, {task[1]} classes"
    parts = [
        f"group {group['group']}",
        data,
        *([_text(group["framework"])] if group.get("framework") else []),
        f"fingerprint {group['data_fingerprint']}",
        task_text,
        f"{group['metric']} ({_source(group)})",
        f"{group['runs']} run{'s' if group['runs'] != 1 else ''}",
    ]
    title = " · ".join(parts)
    if group.get("same_labels_as"):
        others = ", ".join(str(g) for g in group["same_labels_as"])
        title += f"\nsame labels as group {others}: the same examples as other inputs?"
    if not group["ranked"]:
        title += "\nnot ranked: the data these values were computed on is not known"
    return title


def _text(value: Any) -> str:
    return value if isinstance(value, str) else " / ".join(str(v) for v in value)


def _source(group: dict[str, Any]) -> str:
    return _text(group["value_source"])


def _interval_text(entry: dict[str, Any]) -> str:
    if entry["ci_low"] is None:
        return ""
    return f"{entry['ci_low']:.4f} – {entry['ci_high']:.4f}"


def group_table(board: RankedBoard, group: dict[str, Any], extra: list[str]) -> Table:
    """A rich table of one group's entries: rank, name, mean ± std, n, min, max, interval."""
    from rich.table import Table

    from modelboard.cli.render import format_cell

    metric = f"{board.metric} ({_source(group)}) mean ± std"
    table = Table(
        title=group_title(group),
        title_justify="left",
        title_style="bold",
        header_style="bold",
    )
    for label in ["rank", "name", metric, "n", "min", "max", "95% interval", "tied with"]:
        table.add_column(label, no_wrap=True, overflow="ellipsis", max_width=40)
    for label in [*extra, "runs"]:
        table.add_column(label, no_wrap=True, overflow="ellipsis", max_width=40)
    for entry in board.entries:
        if entry["group"] != group["group"]:
            continue
        spread = f" ± {entry['std']:.4f}" if entry["std"] is not None else ""
        runs = " ".join(run_id[:8] for run_id in entry["runs"])
        cells = [
            entry["rank"],
            str(entry["name"]),
            f"{entry['mean']:.4f}{spread}",
            f"n={entry['n']}",
            f"{entry['min']:.4f}",
            f"{entry['max']:.4f}",
            _interval_text(entry),
            ", ".join(str(t) for t in entry["tied_with"]),
            *[format_cell(entry.get(label), label) for label in extra],
            runs,
        ]
        table.add_row(*cells)
    return table


def ls_comparable(tracker: Tracker, args: argparse.Namespace, console: Console | None) -> bool:
    """Print the comparable leaderboard (tables, or entries with ``--json``); ``False`` when
    the store holds no metric to rank (``ls`` then prints the flat list)."""
    from modelboard.leaderboard.ranking import RANKING_COLUMNS, comparable_board, ranking_metric

    if ranking_metric(tracker.store, args.sort) is None:
        if args.group_by:
            raise ValueError("--group-by makes entries ranked by a metric: pass --sort METRIC")
        return False
    limit = None if args.limit is None or args.limit <= 0 else args.limit  # entries in all
    board = comparable_board(
        tracker.store,
        sort=args.sort,
        ascending=args.ascending,
        where=args.where,
        columns=args.columns,
        project=args.project,
        limit=limit,
        group_by=args.group_by,
    )
    if args.json:
        entries = [{k: _json_value(v) for k, v in entry.items()} for entry in board.entries]
        document = {
            "metric": board.metric,
            "value_source": board.value_source,
            "groups": board.groups,
            "entries": entries,
            "runs_without_value": board.missing,
        }
        sys.stdout.write(json.dumps(document, indent=2, default=str, allow_nan=False) + "\n")
        return True
    assert console is not None
    if not board.entries:
        console.print("no runs" + (" match the filter" if args.where else " in this store"))
        return True
    extra = [c for c in board.columns if c not in RANKING_COLUMNS]
    for group in board.groups:
        if group["shown"]:
            console.print(group_table(board, group, extra))
    unranked = "; '-': not ranked" if not all(g["ranked"] for g in board.groups) else ""
    notes = [
        f"'=k': tied with a neighbour (their 95% intervals overlap){unranked}; "
        "--all lists every run on one flat list"
    ]
    if board.missing:
        notes.append(f"{board.missing} matching runs have no {board.metric} value")
    left_out = sum(g["entries"] for g in board.groups) - len(board.entries)
    if left_out > 0:
        noun = "entry" if left_out == 1 else "entries"
        notes.append(
            f"first {len(board.entries)} entries; … {left_out:,} more {noun}; --limit 0 shows all"
        )
    for note in notes:
        console.print(f"[dim]{note}[/dim]")
    return True


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value
