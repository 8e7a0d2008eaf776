"""The ``modelboard migrate SRC DST`` subcommand (registered by ``modelboard.cli``).

Exit codes: 0 copied (or nothing to copy) and verified; 1 the verification found a difference;
2 a usage error, an unreachable store or a conflict (nothing lost, the message says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = ("migrate",)


def add_commands(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """Add ``migrate`` to the ``modelboard`` subparsers ``sub`` (it takes SRC and DST, not the
    ``common`` ``--store``)."""
    from modelboard.store.migrate import DEFAULT_BATCH_RUNS

    p = sub.add_parser(
        "migrate",
        help="copy every run and artifact of one store into another, then verify",
        description=(
            "Copy every run, record, metric, gradient and artifact of store SRC into store DST "
            "(folders or database URLs: SQLite to PostgreSQL and back), then compare row counts "
            "and per-run hashes. A second migrate copies nothing; a killed one goes on where it "
            "stopped. See docs/migrate.md."
        ),
    )
    p.add_argument("source", metavar="SRC", help="store to copy from (folder or database URL)")
    p.add_argument("destination", metavar="DST", help="store to copy into (created if new)")
    p.add_argument(
        "--src-artifacts",
        metavar="ROOT",
        help="artifact root of SRC: a folder or fsspec URL (default: SRC's own)",
    )
    p.add_argument(
        "--dst-artifacts",
        metavar="ROOT",
        help="artifact root of DST: a folder or fsspec URL such as s3://bucket/prefix "
        "(default: DST's own)",
    )
    p.add_argument("--dry-run", action="store_true", help="only list what would be copied")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--skip-running",
        action="store_true",
        help="leave out runs still running in SRC (default: copy them as they stand, warned)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_RUNS,
        metavar="RUNS",
        help=f"runs per DST transaction (default {DEFAULT_BATCH_RUNS})",
    )


def _print_text(report: Any) -> None:
    if report.dry_run:
        print(
            f"dry run: {len(report.to_copy)} of {report.source_runs} runs would be copied, "
            f"{report.present} already present"
            + (
                f", {len(report.skipped_running)} skipped (running)"
                if report.skipped_running
                else ""
            )
        )
        for run_id, name, status in report.to_copy:
            print(f"  {run_id}  {status:<9} {name}")
        return
    skipped = f", {len(report.skipped_running)} skipped (running)" if report.skipped_running else ""
    print(
        f"{report.copied} runs copied, {report.present} already present{skipped} "
        f"({report.seconds:.1f} s)"
    )
    counts = ", ".join(
        f"{c.table} {c.source}" + ("" if c.equal else f" != {c.destination}") for c in report.counts
    )
    equal = report.verified_runs - len(report.mismatched)
    verdict = "ok" if report.ok else "MISMATCH"
    print(f"verify: {verdict}: rows {counts}; {equal} of {report.verified_runs} run hashes equal")
    for run_id in report.mismatched[:10]:
        print(f"  differs: {run_id} ({report.mismatch_kinds.get(run_id, 'rows')})")


def run(args: argparse.Namespace) -> int:
    """Run ``migrate``; see the module docstring for the exit codes."""
    from sqlalchemy.exc import SQLAlchemyError

    from modelboard.errors import ModelboardError
    from modelboard.store.migrate import migrate

    def progress(line: str) -> None:
        print(f"migrate: {line}", file=sys.stderr, flush=True)

    try:
        report = migrate(
            args.source,
            args.destination,
            source_artifacts=args.src_artifacts,
            destination_artifacts=args.dst_artifacts,
            dry_run=args.dry_run,
            skip_running=args.skip_running,
            batch_runs=args.batch_size,
            progress=progress,
        )
    except (ModelboardError, SQLAlchemyError, ValueError, OSError) as exc:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        message = text[0] if text else type(exc).__name__
        print(f"modelboard migrate: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: whole runs only were written; migrate again to go on", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_text(report)
    return 0 if report.ok else 1
