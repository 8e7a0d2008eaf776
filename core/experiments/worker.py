"""A search worker: claims trials one at a time and runs each as a child run of the search.

One worker runs in the caller's process (``parallel=1``), or ``parallel`` workers run in
processes started with ``multiprocessing``'s ``spawn`` (so ``train_fn`` must be importable:
defined in a module or a file, not in ``__main__`` of an interactive session, nor a lambda).
A worker with no trial left to claim waits while other workers' trials are still running:
one of them may die, and its trial is taken again once its heartbeat is stale.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from modelboard.experiments import claims
from modelboard.experiments.trial_run import TrialPruned, TrialRun
from modelboard.store import tables

if TYPE_CHECKING:
    from modelboard.tracking import Tracker

__all__ = ["WorkerConfig", "FileFunction", "work", "worker_main", "worker_name", "trial_value"]

log = logging.getLogger("modelboard")
TrainFn = Callable[[dict[str, Any], TrialRun], Any]


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker needs to find the search and judge trials (picklable)."""

    store_url: str
    artifact_root: str
    project: str
    search_id: str
    search_name: str
    metric: str
    mode: str
    prune: str | None
    stale_after: float
    heartbeat_timeout: float


class FileFunction:
    """A function named ``name`` in the Python file ``path``, loaded on first call.

    It pickles as the path and the name, so spawned workers load the file themselves (what
    ``modelboard search FILE.py`` hands to its workers)."""

    def __init__(self, path: str | os.PathLike[str], name: str = "train_fn") -> None:
        self.path = str(Path(path).resolve())
        self.name = name
        self._function: Callable[..., Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.name, self._function = state["path"], state["name"], None

    def __repr__(self) -> str:
        return f"FileFunction({self.path!r}, {self.name!r})"

    def module(self) -> Any:
        """The file, imported once per process."""
        key = f"_modelboard_search_{uuid.uuid5(uuid.NAMESPACE_URL, self.path).hex[:12]}"
        if key in sys.modules:
            return sys.modules[key]
        spec = importlib.util.spec_from_file_location(key, self.path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {self.path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
        return module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._function is None:
            function = getattr(self.module(), self.name, None)
            if not callable(function):
                raise AttributeError(
                    f"{self.path} defines no function {self.name!r}: define "
                    f"def {self.name}(params, run) that trains, logs and returns the metric"
                )
            self._function = function
        return self._function(*args, **kwargs)


def worker_name() -> str:
    """Host, process id and a random suffix: unique across machines."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def trial_value(tracker: Tracker, run_id: str, metric: str) -> float | None:
    """The metric of a finished trial as ``modelboard ls`` reads a plain name: the evaluation
    value (``run.evaluate``) if the run has one, else the last logged value."""
    rv = tables.run_values.c
    with tracker.store.engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(rv.kind, rv.value_num).where(
                    rv.run_id == run_id,
                    rv.name == metric,
                    rv.kind.in_(("eval", "metric_last")),
                )
            ).all()
        )
    for kind in ("eval", "metric_last"):
        if rows.get(kind) is not None:
            return float(rows[kind])
    return None


def _as_value(result: Any, metric: str) -> float:
    if isinstance(result, bool):
        raise TypeError(f"train_fn returned {result!r}; return the value of {metric!r}")
    try:
        value = float(result)
    except (TypeError, ValueError):
        raise TypeError(
            f"train_fn returned {type(result).__name__} {result!r}; return the value of "
            f"{metric!r} as a number (or None to read it from the run's logged metrics)"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"train_fn returned {metric}={value}: the trial did not converge")
    return value


class _ClaimBeat:
    """Keeps a claim's heartbeat fresh from a daemon thread while its trial runs."""

    def __init__(self, tracker: Tracker, claim: claims.Claim, stale_after: float) -> None:
        self._engine = tracker.store.engine
        self._claim = claim
        self._interval = max(0.05, stale_after / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="modelboard-trial-beat", daemon=True
        )

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if not claims.beat(self._engine, self._claim):
                    return
            except Exception as exc:  # a transient store error: the next beat tries again
                log.warning("modelboard: trial heartbeat failed: %s", exc)

    def __enter__(self) -> _ClaimBeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _start_trial_run(tracker: Tracker, config: WorkerConfig, claim: claims.Claim) -> TrialRun:
    record = tracker.new_record(
        f"{config.search_name}-trial-{claim.index}",
        config.project,
        claim.params,
        {"search": config.search_id, "trial": str(claim.index)},
        "",
        config.search_id,
        None,
        None,
    )
    if claim.attempt > 1:
        record.tags["attempt"] = str(claim.attempt)
    tracker.store.create_run(record)
    return TrialRun(
        record,
        tracker.store,
        tracker.plugins,
        search_id=config.search_id,
        index=claim.index,
        params=claim.params,
        metric=config.metric,
        mode=config.mode,
        prune=config.prune,
    )


def run_trial(
    tracker: Tracker, config: WorkerConfig, claim: claims.Claim, train_fn: TrainFn
) -> str:
    """Run one claimed trial to its end; its state (``finished``, ``failed``, ``pruned``)."""
    engine = tracker.store.engine
    run = _start_trial_run(tracker, config, claim)
    claims.set_run(engine, claim, run.id)
    status, value = "failed", None
    with _ClaimBeat(tracker, claim, config.stale_after):
        try:
            result = train_fn(dict(claim.params), run)
            run.flush()
            if result is None:
                found = trial_value(tracker, run.id, config.metric)
                if found is None:
                    raise ValueError(
                        f"train_fn returned None and the run logged no {config.metric!r}: "
                        f"return the metric, or log it with run.log({config.metric}=...)"
                    )
                result = found
            value = _as_value(result, config.metric)
            run.finish("finished")
            status = "finished"
        except TrialPruned as exc:
            run.flush()
            value = trial_value(tracker, run.id, config.metric)
            if run.pruned_at is not None:
                run.set_tags(pruned_at_epoch=run.pruned_at)
            run.finish("pruned", error=exc)
            status = "pruned"
        except Exception as exc:
            log.warning(
                "modelboard: trial %d of search %s failed: %r",
                claim.index,
                config.search_id[:8],
                exc,
            )
            run.finish("failed", error=exc)
            status = "failed"
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: end the run, then stop
            run.finish("killed", error=exc)
            raise
    if not claims.complete(engine, claim, status, value):
        log.warning(
            "modelboard: trial %d of search %s was taken by another worker while this one ran "
            "it (its heartbeat went stale); this result stays in run %s only",
            claim.index,
            config.search_id[:8],
            run.id[:8],
        )
    return status


def work(
    tracker: Tracker, config: WorkerConfig, train_fn: TrainFn, worker: str | None = None
) -> int:
    """Claim and run trials until none is left; the number this worker ran."""
    engine = tracker.store.engine
    name = worker or worker_name()
    done = 0
    poll = min(1.0, config.stale_after / 4)
    while True:
        claim = claims.claim_trial(engine, config.search_id, name, config.stale_after)
        if claim is None:
            claims.give_up_dead(engine, config.search_id, config.stale_after)
            if claims.pending(engine, config.search_id) == 0:
                return done
            time.sleep(poll)  # others' trials still run; one may die and be taken again
            continue
        run_trial(tracker, config, claim, train_fn)
        done += 1


def worker_main(config: WorkerConfig, train_fn: TrainFn) -> None:
    """Entry point of a spawned worker process."""
    from modelboard.tracking import Tracker

    with Tracker(
        config.store_url,
        project=config.project,
        artifact_root=config.artifact_root,
        heartbeat_timeout=config.heartbeat_timeout,
        announce=False,
    ) as tracker:
        work(tracker, config, train_fn)
