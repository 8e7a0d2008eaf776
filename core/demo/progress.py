"""Rich progress for the demo: one bar per run and one for the whole demo, in training steps."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["DemoProgress"]


class DemoProgress:
    """An overall bar over every run's steps, and a bar for the run in training.

    >>> from rich.console import Console
    >>> with DemoProgress(Console(file=open("/dev/null", "w")), total_steps=4) as p:
    ...     p.start_run("keras basic_cnn", 4)
    ...     p.advance(4)
    ...     p.end_run("done")
    """

    def __init__(self, console: Console, total_steps: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._overall = self._progress.add_task("[bold]all runs", total=total_steps)
        self._current: TaskID | None = None

    def __enter__(self) -> DemoProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def start_run(self, label: str, steps: int) -> None:
        """Show a new bar for the run called ``label`` with ``steps`` training steps."""
        self._current = self._progress.add_task(label, total=steps)

    def advance(self, steps: int = 1) -> None:
        """``steps`` more training steps are done."""
        self._progress.advance(self._overall, steps)
        if self._current is not None:
            self._progress.advance(self._current, steps)

    def end_run(self, message: str) -> None:
        """End the current run's bar (a failed run's stays short) and print ``message``."""
        if self._current is not None:
            task = self._progress.tasks[self._current]
            missing = int((task.total or 0) - task.completed)
            if missing > 0:  # a failed run: the overall bar still counts its steps as gone
                self._progress.advance(self._overall, missing)
            self._current = None
        self._progress.console.print(message)
