"""Runs still open when the interpreter exits are flushed and finished, never left running.

A normal exit finishes them as ``finished``; an uncaught exception (seen through
``sys.excepthook``) as ``failed`` with that exception; SIGTERM as ``killed``, after writing
what is queued. The SIGTERM handler is installed with the first run (from the main thread) and
chains the handler that was there before: a user's or framework's handler runs next, and with
none the default action (the process ends) follows. A handler installed later replaces ours
unless it chains too. A process killed outright (SIGKILL, out of memory) cannot do this: its
runs read as ``crashed`` once their heartbeat goes stale.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelboard.tracking.run import Run

__all__ = ["register", "unregister"]

# keyed by id(run), not the run id: a process may hold a run twice (its owner and a joiner)
_open_runs: dict[int, Run] = {}  # strong: a run dropped unfinished is still finished at exit
_lock = threading.Lock()
_installed = False
_uncaught: BaseException | None = None
_owner_pid = os.getpid()
_previous_sigterm: Any = None
_sigterm_installed = False


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


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Finish every open run as ``killed``, then do what SIGTERM did before modelboard."""
    if os.getpid() == _owner_pid:
        for run in list(_open_runs.values()):
            try:
                run.finish("killed")
            except Exception as exc:
                print(f"modelboard: could not finish run {run.id[:8]}: {exc}", file=sys.stderr)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:  # the default action: end the process, as SIGTERM does
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm() -> None:
    global _previous_sigterm, _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; the next run tries
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN or previous is _on_sigterm:
        _sigterm_installed = True
        return  # the process ignores SIGTERM: so do its runs
    _previous_sigterm = previous
    signal.signal(signal.SIGTERM, _on_sigterm)
    _sigterm_installed = True


def _install() -> None:
    global _installed, _previous_excepthook
    _install_sigterm()
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
        _open_runs[id(run)] = run


def unregister(run: Run) -> None:
    """Stop watching ``run`` (it has finished)."""
    with _lock:
        _open_runs.pop(id(run), None)
