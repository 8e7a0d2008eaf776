"""The subcommands of ``modelboard``; each returns an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from modelboard.errors import ModelboardError, StoreUnavailableError
from modelboard.store.columns import IDENTITY_COLUMNS

if TYPE_CHECKING:
    from modelboard.tracking import Tracker

__all__ = ["run_command", "open_tracker"]

LS_COLUMNS = IDENTITY_COLUMNS
HEADLINE_METRICS = ("val_accuracy", "accuracy", "val_loss", "loss")


def open_tracker(store: str | None) -> Tracker:
    """A read-only tracker on an existing store: read commands never create, migrate or change
    a store, and refuse another application's database."""
    import pluggy

    from modelboard.store import resolve_location
    from modelboard.tracking import Tracker

    location = resolve_location(store)
    try:
        # reading needs no adapter: a bare plugin manager keeps numpy and plugins unloaded
        return Tracker(store, plugin_manager=pluggy.PluginManager("modelboard"), read_only=True)
    except ModelboardError:
        raise
    except Exception as exc:
        raise StoreUnavailableError(
            f"cannot open the store at {location.describe()}: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _console() -> Any:
    from rich.console import Console

    console = Console(soft_wrap=False)
    if not console.is_terminal:  # piped: do not squeeze tables into 80 columns
        console = Console(soft_wrap=False, width=200)
    return console


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, allow_nan=False) + "\n")


def _frame_records(frame: Any) -> list[dict[str, Any]]:
    import pandas as pd

    clean = frame.astype(object)
    clean = clean.where(pd.notna(clean), None)
    return [dict(r) for r in clean.to_dict(orient="records")]


def _limit(value: int | None) -> int | None:
    return None if value is None or value <= 0 else value


# -- ls and export ------------------------------------------------------------------------------


def _ls_columns(tracker: Tracker, sort: str | None) -> list[str]:
    from modelboard.leaderboard import FilterError
    from modelboard.store import column_resolver

    resolver = column_resolver(tracker.store)
    columns = list(LS_COLUMNS)
    wanted = [s.strip().lstrip("+-") for s in (sort or "").split(",") if s.strip()]
    for name in [*wanted, *HEADLINE_METRICS]:
        if name in columns:
            continue
        try:
            resolver.resolve(name)
        except FilterError:
            if name in wanted:
                raise
            continue
        columns.append(name)
    return columns


def cmd_ls(args: argparse.Namespace) -> int:
    if getattr(args, "search", None):  # ls --search ID: the trials of one search
        from modelboard.cli._search import ls_search

        return ls_search(args)
    from modelboard.leaderboard import leaderboard_table

    tracker = open_tracker(args.store)
    if not args.all and (args.group_by or not args.json):  # the comparable leaderboard
        from modelboard.cli._ranking import ls_comparable

        if ls_comparable(tracker, args, None if args.json else _console()):
            return 0
    columns = args.columns or _ls_columns(tracker, args.sort)
    limit = _limit(args.limit)
    labels, rows = leaderboard_table(  # plain rows: ls never imports pandas
        tracker.store,
        sort=args.sort,
        ascending=args.ascending,
        where=args.where,
        columns=columns,
        project=args.project,
        limit=limit,
    )
    if args.json:
        _print_json([dict(zip(labels, _json_safe(row), strict=True)) for row in rows])
        return 0
    from modelboard.cli.render import RICH_TABLE_ROWS, rows_table, write_plain_table

    console = _console()
    if not rows:
        console.print("no runs" + (" match the filter" if args.where else " in this store"))
        return 0
    from modelboard.cli._ranking import source_labels

    headers = source_labels(tracker.store, labels)
    if len(rows) <= RICH_TABLE_ROWS:
        console.print(rows_table(headers, rows))
    else:  # rich measures every cell of every row: a plain aligned table prints in seconds
        write_plain_table(sys.stdout, headers, rows)
    left_out = _left_out(tracker, args, limit, len(rows))
    if left_out:
        noun = "run" if left_out == 1 else "runs"
        console.print(f"[dim]… {left_out:,} more {noun}; --limit 0 shows all[/dim]")
    return 0


def _left_out(tracker: Tracker, args: argparse.Namespace, limit: int | None, shown: int) -> int:
    """How many matching runs a full page left out (counted in the database)."""
    if limit is None or shown < limit:
        return 0
    from modelboard.store import count_runs

    total = count_runs(tracker.store, where=args.where, project=args.project)
    return max(0, total - shown)


def _json_safe(row: list[Any]) -> list[Any]:
    return [None if isinstance(v, float) and v != v else v for v in row]


def cmd_export(args: argparse.Namespace) -> int:
    from modelboard.leaderboard import export_frame

    tracker = open_tracker(args.store)
    frame = tracker.leaderboard(
        sort=args.sort,
        ascending=args.ascending,
        where=args.where,
        columns=args.columns,
        project=args.project,
        limit=_limit(args.limit),
    )
    target = export_frame(frame, args.out, args.format)
    if args.json:
        _print_json({"path": str(target), "runs": len(frame), "columns": list(frame.columns)})
    else:
        print(f"wrote {len(frame)} runs, {len(frame.columns)} columns to {target}")
    return 0


# -- show -------------------------------------------------------------------------------------


def _show_columns(tracker: Tracker, run_id: str) -> dict[str, Any]:
    """The run's leaderboard values (``SHOW_COLUMNS``), from the same query as ``ls``."""
    from modelboard.cli.render import SHOW_COLUMNS
    from modelboard.leaderboard import leaderboard_table

    labels, rows = leaderboard_table(tracker.store, where=f"id = '{run_id}'", columns=SHOW_COLUMNS)
    return dict(zip(labels, _json_safe(rows[0]), strict=True)) if rows else {}


def _artifact_files(
    tracker: Tracker, run_id: str, names: list[str]
) -> tuple[str, list[bool | None]]:
    """Where the run's artifacts are (a folder or an object-store URL), and for each registered
    name whether its file is there (read from the artifact store, not the database; ``None``
    when the store could not be read)."""
    from modelboard.errors import ArtifactPathError

    artifacts = tracker.store.artifacts
    try:
        folder = artifacts.describe(run_id)
    except ArtifactPathError:
        return "", [None] * len(names)
    try:
        present = set(artifacts.list_run(run_id)) if names else set()
    except ModelboardError as exc:  # an object store that cannot be reached: say so, go on
        print(f"modelboard: {exc}", file=sys.stderr)
        return folder, [None] * len(names)
    folders = {f.rsplit("/", i)[0] for f in present for i in range(1, f.count("/") + 1)}
    return folder, [name in present or name in folders for name in names]


def cmd_show(args: argparse.Namespace) -> int:
    tracker = open_tracker(args.store)
    stored = tracker.get(args.run)
    columns = _show_columns(tracker, stored.run.id)
    names = [a.path for a in stored.artifacts]
    folder, stored_files = _artifact_files(tracker, stored.run.id, names)
    if args.json:
        _print_json(
            {
                "run": stored.run.to_dict(),
                "columns": columns,
                "data": stored.data.to_dict() if stored.data else None,
                "network": stored.network.to_dict() if stored.network else None,
                "training": stored.training.to_dict(),
                "gradients": [g.to_dict() for g in stored.gradients],
                "evaluations": {k: v.to_dict() for k, v in stored.evaluations.items()},
                "artifacts": [
                    {**a.to_dict(), "stored": present}
                    for a, present in zip(stored.artifacts, stored_files, strict=True)
                ],
                "artifact_folder": folder,
            }
        )
        return 0
    from modelboard.cli.render import render_run

    console = _console()
    render_run(console, stored, columns)
    if stored.artifacts:
        from rich.markup import escape

        missing, unknown = stored_files.count(False), stored_files.count(None)
        note = f", {missing} of them missing there" if missing else ""
        note += f", {unknown} not checked (unreadable)" if unknown else ""
        console.print(
            f"artifacts: {len(stored.artifacts)} in {escape(folder)}{note}", highlight=False
        )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise ValueError("compare needs at least two runs")
    tracker = open_tracker(args.store)
    everything = bool(args.all)
    comparison = tracker.compare(*args.runs, show_identical=everything)
    plot = comparison.plot_curves(args.plot) if args.plot else None
    if args.json:
        out = comparison.to_dict()
        if plot is not None:
            out["plot"] = str(plot)
        _print_json(out)
        return 0
    from modelboard.cli.render import comparison_table, frame_table, layer_alignment_table

    console = _console()
    if everything:
        for name, frame in comparison.sections.items():
            if not frame.empty:
                console.print(comparison_table(frame, title=name))
    else:
        for name, frame in comparison.summary.items():
            if frame.empty:
                console.print(f"[bold]{name}[/bold]: none recorded")
            else:
                console.print(comparison_table(frame, title=name))
    if not comparison.layers.empty:
        if everything:
            console.print(frame_table(comparison.layers, title="layers (aligned)"))
        else:
            console.print(layer_alignment_table(comparison, title="layers (aligned)"))
    if not everything:
        from rich.markup import escape

        ids = escape(" ".join(args.runs))
        console.print(
            f"[dim]* marks values that differ. Every field of every record (per-class values, "
            f"the environment...): modelboard compare {ids} --all[/dim]",
            highlight=False,
        )
    if plot is not None:
        console.print(f"metric curves: {plot}")
    return 0


# -- rm and gc --------------------------------------------------------------------------------


def cmd_rm(args: argparse.Namespace) -> int:
    tracker = open_tracker(args.store)
    records = [tracker.store.get_run(r) for r in args.runs]
    unique = {r.id: r for r in records}
    live = [r for r in unique.values() if r.status == "running"]
    if live and not args.force:
        names = ", ".join(f"{r.id[:8]} ({r.name})" for r in live)
        raise ModelboardError(
            f"{names} still running: its process is alive and would keep writing; "
            "stop it first, or pass --force"
        )
    if not args.yes:
        for record in unique.values():
            print(f"  {record.id[:8]}  {record.name}  ({record.status})")
        try:
            answer = input(f"delete {len(unique)} run(s) and their artifacts? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 1
    for run_id in unique:
        tracker.delete(run_id)
    if args.json:
        _print_json({"deleted": list(unique)})
    else:
        print(f"deleted {len(unique)} run(s)")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    tracker = open_tracker(args.store)
    artifacts = tracker.store.artifacts  # a local folder or an object store (s3://...)
    known = tracker.store.known_run_ids()
    orphans = [run_id for run_id in artifacts.run_ids() if run_id not in known]
    sizes = {run_id: artifacts.run_size(run_id) for run_id in orphans}
    rows = tracker.store.delete_orphan_rows(dry_run=bool(args.dry_run))
    failed: list[str] = []
    if not args.dry_run:
        for run_id in orphans:
            try:
                artifacts.delete_run(run_id)
            except ModelboardError as exc:
                print(f"modelboard: {exc}", file=sys.stderr)
        failed = [run_id for run_id in orphans if artifacts.has_run(run_id)]
        orphans = [run_id for run_id in orphans if run_id not in failed]
    freed = sum(sizes[run_id] for run_id in orphans)
    if args.json:
        _print_json(
            {
                "removed": orphans,
                "failed": failed,
                "bytes": freed,
                "rows": rows,
                "dry_run": bool(args.dry_run),
            }
        )
    else:
        verb = "would remove" if args.dry_run else "removed"
        print(
            f"{verb} {len(orphans)} artifact folder(s) of deleted runs, {freed / 1e6:.1f} MB, "
            f"and {rows} database row(s) of deleted runs"
        )
        if failed:
            print(f"could not remove {len(failed)} folder(s): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from modelboard.demo import main as demo_main

    extra = list(args.args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    if getattr(args, "store", None) and "--store" not in extra:
        extra = ["--store", args.store, *extra]  # ``modelboard --store X demo``
    return int(demo_main(extra) or 0)


_COMMANDS = {
    "ls": cmd_ls,
    "show": cmd_show,
    "compare": cmd_compare,
    "export": cmd_export,
    "rm": cmd_rm,
    "gc": cmd_gc,
    "demo": cmd_demo,
}


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed command; expected failures are one line on stderr and exit code 2."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return _COMMANDS[args.command](args)
    except (ModelboardError, SQLAlchemyError, ValueError, OSError) as exc:
        if isinstance(exc, SQLAlchemyError):
            message = f"store error: {_first_line(exc)}"
        else:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"modelboard {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
