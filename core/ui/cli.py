"""The ``modelboard ui`` and ``modelboard report`` subcommands (registered by
``modelboard.cli``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = ("ui", "report")


def add_commands(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """Add ``ui`` and ``report`` to the ``modelboard`` subparsers ``sub``."""
    p = sub.add_parser("ui", parents=common, help="a live dashboard in the browser")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--open", action="store_true", help="open the dashboard in a browser")

    p = sub.add_parser("report", parents=common, help="the dashboard as one offline HTML file")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write (report.html)")
    p.add_argument("--where", help="only runs that match this filter")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="only these runs (ids or prefixes)")
    p.add_argument("--sort", help="leaderboard order (default: newest first)")


def _missing_extra(exc: ImportError) -> int:
    print(
        f"modelboard: the ui needs the 'ui' extra ({exc.name or exc}): "
        'pip install "modelboard[ui]"',
        file=sys.stderr,
    )
    return 2


def run(args: argparse.Namespace) -> int:
    """Run ``ui`` or ``report``; expected failures are one line on stderr and exit code 2."""
    from modelboard.errors import ModelboardError

    try:
        if args.command == "ui":
            from modelboard.ui.app import serve

            serve(args.store, host=args.host, port=args.port, open_browser=args.open)
            return 0
        from modelboard.ui.report import write_report

        path = write_report(
            args.out, store=args.store, where=args.where, runs=args.runs, sort=args.sort
        )
        print(f"report: {path} ({path.stat().st_size / 1e6:.2f} MB)")
        return 0
    except ImportError as exc:
        return _missing_extra(exc)
    except (ModelboardError, ValueError, OSError) as exc:
        from modelboard.store import FilterError

        if isinstance(exc, FilterError):
            print(f"modelboard {args.command}: error: {exc}\n{exc.pointer()}", file=sys.stderr)
            return 2
        text = str(exc).strip().splitlines()
        message = text[0] if text else repr(exc)
        print(f"modelboard {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
