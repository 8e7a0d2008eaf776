"""Runs still open when the interpreter exits are flushed and finished, never left running.

A normal exit finishes them as ``finished``; an uncaught exception (seen through
``sys.excepthook``) as ``failed`` with that exception. A process killed outright (SIGKILL,
out of memory) cannot do this: its runs read as ``crashed`` once their heartbeat goes stale.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelboard.tracking.run import Run

__all__ = ["register", "unregister"]

_open_runs: dict[str, Run] = {}  # strong: a run dropped unfinished is still finished at exit
_lock = threading.Lock()
_installed = False
_uncaught: BaseException | None = None
_owner_pid = os.getpid()


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    global _uncaught
    _uncaught = exc
    _previous_excepthook(exc_type, exc, tb)


_previous_excepthook = sys.excepthook


def _finish_open_runs() -> None:
    if os.getpid() != _owner_pid:  # a forked child (a DataLoader worker) leaves them alone
        return
    for run in list(_open_runs.values()):
        try:
            if _uncaught is not None:
                run.finish("failed", error=_uncaught)
            else:
                run.finish("finished")
        except Exception as exc:  # the store may be gone; the heartbeat will tell
            print(f"modelboard: could not finish run {run.id[:8]} at exit: {exc}", file=sys.stderr)


def _install() -> None:
    global _installed, _previous_excepthook
    if _installed:
        return
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    atexit.register(_finish_open_runs)
    _installed = True


def register(run: Run) -> None:
    """Watch ``run`` until it finishes."""
    global _owner_pid
    with _lock:
        if os.getpid() != _owner_pid:  # runs started in a child process belong to it
            _open_runs.clear()
            _owner_pid = os.getpid()
        _install()
        _open_runs[run.id] = run


def unregister(run: Run) -> None:
    """Stop watching ``run`` (it has finished)."""
    with _lock:
        _open_runs.pop(run.id, None)
