"""The ``modelboard`` command line: ``ls``, ``show``, ``compare``, ``export``, ``rm``, ``gc``,
``demo``, ``ui``, ``report``, ``search`` (hyperparameter search as child runs) and ``migrate``
(copy a store into another one, then verify).

``show`` prints every record of a run and its leaderboard columns as ``ls`` reads them;
``compare`` prints a summary of what a person compares (``--all``: every field of every record).
Every command takes ``--store`` (a folder or database URL; default ``MODELBOARD_URI`` or
``./.modelboard``) and ``--json``. Run ids may be given by a unique prefix. An unknown run, a
bad filter or an unreachable store prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from modelboard._version import __version__

__all__ = ["main", "build_parser"]


def _common(suppress: bool) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if suppress else None
    parent.add_argument(
        "--store",
        default=default,
        help="store folder or database URL (default: $MODELBOARD_URI or ./.modelboard)",
    )
    parent.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print JSON for scripts",
    )
    return parent


def _query_options(parser: argparse.ArgumentParser, default_limit: int | None) -> None:
    parser.add_argument("--sort", help="column to sort by; metrics sort best first; -col: desc")
    parser.add_argument(
        "--asc", dest="ascending", action="store_const", const=True, help="sort ascending"
    )
    parser.add_argument(
        "--desc", dest="ascending", action="store_const", const=False, help="sort descending"
    )
    parser.add_argument(
        "--where",
        help='filter, e.g. "framework = \'torch\' and val_accuracy > 0.9" or "optimizer in '
        "('adam', 'sgd')\" (framework, status, optimizer, loss_function, model_name ignore "
        "case; see docs/leaderboard.md)",
    )
    parser.add_argument(
        "--columns",
        help="comma-separated columns to show, e.g. 'name, optimizer, learning_rate, "
        "learning_rate_last, epochs, epochs_planned'",
    )
    parser.add_argument("--project", help="only runs of this project")
    parser.add_argument(
        "--limit",
        type=int,
        default=default_limit,
        help=f"at most this many runs (0: all; default {default_limit or 'all'})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``modelboard``."""
    from modelboard.leaderboard import EXPORT_FORMATS

    parser = argparse.ArgumentParser(
        prog="modelboard",
        description="Local-first experiment tracker for Keras and PyTorch.",
        parents=[_common(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"modelboard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = [_common(suppress=True)]

    p = sub.add_parser("ls", parents=common, help="the leaderboard as a table")
    _query_options(p, default_limit=50)
    p.add_argument("--search", metavar="ID", help="the trials of search ID, the best marked")
    from modelboard.cli._ranking import add_ls_options

    add_ls_options(p)  # --all, --group-by: the comparable leaderboard (docs/leaderboard.md)

    p = sub.add_parser(
        "show",
        parents=common,
        help="every record of one run",
        description="Every record of one run, and its leaderboard columns as `ls` reads them.",
    )
    p.add_argument("run", help="run id or unique prefix")

    p = sub.add_parser(
        "compare",
        parents=common,
        help="runs side by side: hyperparameters, data, network, layers, metrics, evaluation",
        description=(
            "Runs side by side: hyperparameters, data (names, sizes, fingerprints), a network "
            "summary (architecture, parameters, optimizer and learning rates, loss, batch size, "
            "epochs), the layer alignment, final and best metrics and the evaluation scalars; "
            "'*' marks values that differ. --all prints every field of every record instead "
            "(per-class values, the environment, identical rows)."
        ),
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more run ids or prefixes")
    p.add_argument(
        "--all",
        action="store_true",
        help="every field of every record: per-class values, the environment, identical rows",
    )
    p.add_argument("--plot", metavar="FILE", help="write the overlaid metric curves as a PNG")

    p = sub.add_parser("export", parents=common, help="write the leaderboard to a file")
    p.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        help="file format (default: from the file name)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="file to write")
    _query_options(p, default_limit=None)

    p = sub.add_parser("rm", parents=common, help="delete runs and their artifacts")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids or unique prefixes")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.add_argument("--force", action="store_true", help="also delete runs that are still running")

    p = sub.add_parser("gc", parents=common, help="remove artifact folders of deleted runs")
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")

    # the demo parses its own options (``modelboard demo --help`` lists them)
    p = sub.add_parser("demo", add_help=False, help="track a Keras and a PyTorch model on digits")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the demo")
    from modelboard.ui.cli import add_commands

    add_commands(sub, common)  # ui, report
    from modelboard.cli import _migrate

    _migrate.add_commands(sub, common)  # migrate

    from modelboard.cli._search import add_commands as add_search_command

    add_search_command(sub, common)  # search
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modelboard`` command; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "demo":
        args.args = [*extra, *args.args]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 2
    if args.command in ("ui", "report"):
        from modelboard.ui.cli import run

        return run(args)
    if args.command == "migrate":
        from modelboard.cli import _migrate

        return _migrate.run(args)
    if args.command == "search":
        from modelboard.cli._search import run as run_search

        return run_search(args)
    from modelboard.cli._commands import run_command

    return run_command(args)
