"""The ``modelboard demo`` command: options, training loop with progress, report."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from modelboard.demo import grid, report
from modelboard.demo.jobs import DemoContext, DemoModels
from modelboard.demo.runner import (
    RunResult,
    demo_models,
    framework_session,
    missing_packages,
    plan_runs,
    train,
)

if TYPE_CHECKING:
    from modelboard.tracking import Tracker

__all__ = ["build_parser", "main"]


def _frameworks_parser(known: Sequence[str]) -> Callable[[str], list[str]]:
    """``--frameworks``: a comma-separated list of the frameworks the adapters offer."""

    def parse(text: str) -> list[str]:
        names = [n.strip().lower() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown framework {', '.join(unknown) or text!r}; choose from {','.join(known)}"
            )
        return list(dict.fromkeys(names))

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The demo's options (the frameworks are those whose adapters offer demo models)."""
    known = list(demo_models())
    parser = argparse.ArgumentParser(
        prog="modelboard demo",
        description="Train the seed paper's CNNs on scikit-learn's digits in Keras and PyTorch, "
        "track every run, then show the leaderboard and a cross-framework compare.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few runs of 1 or 2 epochs (under a minute)"
    )
    parser.add_argument(
        "--frameworks",
        type=_frameworks_parser(known),
        default=known,
        metavar="LIST",
        help=f"comma-separated frameworks to train in (default: {','.join(known)})",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        metavar="N",
        help=f"grid settings to train, each in every framework (default: "
        f"{len(grid.QUICK_GRID)} with --quick, else {grid.DEFAULT_SETTINGS}; "
        f"at most {len(grid.PAPER_GRID)})",
    )
    parser.add_argument(
        "--store", default=None, help="store folder or database URL (default: ./.modelboard)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed everything and use deterministic algorithms: PyTorch metrics repeat exactly",
    )
    parser.add_argument(
        "--out", default=None, help="folder for the CSV and HTML report (default: the store's)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status (0 when every run finished)."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)  # a pipe or a log file: no need to squeeze the tables
    try:
        settings = grid.select(args.quick, args.runs)
    except ValueError as exc:
        console.print(f"[red]modelboard demo: {exc}[/]")
        return 2

    offers = demo_models()
    frameworks = []
    for name in args.frameworks:
        missing = missing_packages(name)
        if missing:
            console.print(
                f"[yellow]{name} is not installed (missing {', '.join(missing)}): skipping its "
                f"runs. Install it with: pip install 'modelboard[{name}]'[/]"
            )
        else:
            frameworks.append(name)
    if not frameworks:
        needed = " or ".join(f"{n} ({', '.join(offers[n].requirements)})" for n in args.frameworks)
        console.print(f"[red]modelboard demo: no framework to train with; install {needed}[/]")
        return 1

    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        with console.status(f"importing {', '.join(frameworks)}"):
            stack.enter_context(framework_session(frameworks))
        return _run(console, args, settings, frameworks, offers, started)


def _run(
    console: Console,
    args: argparse.Namespace,
    settings: list[grid.Setting],
    frameworks: list[str],
    offers: dict[str, DemoModels],
    started: float,
) -> int:
    import modelboard as mb
    from modelboard.demo.data import load_digits_data
    from modelboard.demo.progress import DemoProgress

    data = load_digits_data(seed=args.seed if args.seed is not None else 0)
    tracker = mb.Tracker(args.store, announce=False)  # the demo prints its own progress
    plans = plan_runs(settings, frameworks, offers)
    session = uuid.uuid4().hex[:8]
    n_train = len(data.x_train)
    console.print(
        f"[bold]modelboard demo[/] {session}: {len(plans)} runs in {', '.join(frameworks)} on "
        f"digits ({n_train} train / {len(data.x_val)} val images, 8x8x1, 10 classes)"
        + (f", seed {args.seed}" if args.seed is not None else "")
    )
    console.print(f"store: {tracker.location.describe()}")

    results: list[RunResult] = []
    with DemoProgress(console, sum(plan.steps(n_train) for plan in plans)) as progress:
        context = DemoContext(tracker, data, args.seed, session, progress)
        for plan in plans:
            progress.start_run(plan.label, plan.steps(n_train))
            result = train(context, plan)
            results.append(result)
            if result.error is None:
                accuracy = "-" if result.val_accuracy is None else f"{result.val_accuracy:.4f}"
                message = (
                    f"[green]done[/] {plan.label}: val_accuracy {accuracy} "
                    f"in {result.seconds:.1f} s"
                )
            else:
                message = f"[red]failed[/] {plan.label}: {result.error}"
            progress.end_run(message)
    try:
        _report(console, tracker, results, session, args.out)
    finally:
        tracker.close()
    failed = [r for r in results if r.error is not None]
    console.print(
        f"{len(results) - len(failed)} of {len(results)} runs finished; "
        f"{time.perf_counter() - started:.1f} s in all"
    )
    return 1 if failed else 0


def _report(
    console: Console, tracker: Tracker, results: list[RunResult], session: str, out: str | None
) -> None:
    """Leaderboard, compare of the two basic_cnn runs, CSV, HTML, and where they are."""
    run_ids = [r.run_id for r in results if r.run_id is not None]
    if not run_ids:
        return
    frame = report.leaderboard_frame(tracker, run_ids, session)
    console.print()
    report.print_leaderboard(console, frame)
    console.print()
    basic = {
        r.plan.framework: r.run_id
        for r in reversed(results)
        if r.plan.setting.model == "basic_cnn" and r.run_id is not None and r.error is None
    }
    order = dict.fromkeys(r.plan.framework for r in results)
    pair = [basic[fw] for fw in order if fw in basic][:2]
    if len(pair) == 2:
        report.print_compare(console, tracker, pair[0], pair[1])
    else:
        console.print("no cross-framework compare: it needs a basic_cnn run in two frameworks")
    folder = Path(out).expanduser().resolve() if out else report.store_folder(tracker)
    csv_path = report.write_csv(frame, folder / "leaderboard.csv")
    try:
        chosen = pair if len(pair) == 2 else None  # the cross-framework pair, when there is one
        html_path: Path | str = report.write_html(folder / "report.html", tracker, run_ids, chosen)
    except ImportError as exc:  # the report needs the ui extra (jinja2, plotly)
        html_path = f"not written: {exc.name or exc} is missing; pip install 'modelboard[ui]'"
    console.print()
    console.print(f"store:       {tracker.location.describe()}")
    console.print(f"artifacts:   {tracker.location.artifact_url}")
    console.print(f"leaderboard: {csv_path}")
    console.print(f"report:      {html_path}  (modelboard ui shows the same pages live)")
