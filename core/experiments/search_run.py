"""``mb.search``: a hyperparameter search whose trials are child runs of one search run.

The search run (tag ``search=true``) records the space, the strategy, the seed, the number of
trials, the metric, the mode and the pruner as params; when every trial is done it records
``best_trial`` (the run id), ``best_trial_index``, ``best_value`` and the trial counts as flags,
and stores ``search/parallel_coordinates.png`` as an artifact. Each trial is a run whose
``parent_id`` is the search run's id, with its sampled hyperparameters as params and the tags
``search`` (the search id) and ``trial`` (its index).
"""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelboard.experiments import claims
from modelboard.experiments.pruning import PRUNERS
from modelboard.experiments.space import Space, describe_space, draw_trials
from modelboard.experiments.worker import WorkerConfig, work, worker_main

if TYPE_CHECKING:
    from modelboard.tracking import Tracker

__all__ = ["search", "SearchResult", "MODES"]

log = logging.getLogger("modelboard")
MODES = ("max", "min")
PLOT_ARTIFACT = "search/parallel_coordinates.png"


@dataclass
class SearchResult:
    """What a search found: the best finished trial and every trial as stored."""

    search_id: str
    metric: str
    mode: str
    best_run_id: str | None
    best_index: int | None
    best_value: float | None
    best_params: dict[str, Any] | None
    trials: list[claims.TrialRow] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many trials ended in each state."""
        out: dict[str, int] = {}
        for trial in self.trials:
            out[trial.status] = out.get(trial.status, 0) + 1
        return out


def best_trial(trials: list[claims.TrialRow], mode: str) -> claims.TrialRow | None:
    """The finished trial with the best value (the lowest index among equals)."""
    finished = [t for t in trials if t.status == "finished" and t.value is not None]
    if not finished:
        return None
    sign = -1.0 if mode == "max" else 1.0
    return min(finished, key=lambda t: (sign * float(t.value or 0.0), t.index))


def _result(engine: Any, search_id: str, metric: str, mode: str) -> SearchResult:
    trials = claims.trial_rows(engine, search_id)
    best = best_trial(trials, mode)
    return SearchResult(
        search_id=search_id,
        metric=metric,
        mode=mode,
        best_run_id=best.run_id if best else None,
        best_index=best.index if best else None,
        best_value=best.value if best else None,
        best_params=dict(best.params) if best else None,
        trials=trials,
    )


def _check(metric: str, mode: str, prune: str | None, parallel: int) -> None:
    if not isinstance(metric, str) or not metric:
        raise ValueError(
            f"metric must name the value train_fn returns, e.g. 'val_accuracy'; got {metric!r}"
        )
    if mode not in MODES:
        raise ValueError(f"mode must be 'max' or 'min'; got {mode!r}")
    if prune not in PRUNERS:
        raise ValueError(f"prune must be None or 'median'; got {prune!r}")
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ValueError(f"parallel must be a whole number of processes >= 1; got {parallel!r}")


def _check_importable(train_fn: Callable[..., Any]) -> None:
    import pickle

    try:
        pickle.dumps(train_fn)
    except Exception as exc:
        raise TypeError(
            f"parallel > 1 runs train_fn in new processes, which import it by name; "
            f"{train_fn!r} cannot be sent there ({exc}). Define it at the top level of a "
            "module or file (not a lambda, a nested function or one typed at the prompt), "
            "or use modelboard search FILE.py"
        ) from exc


def _run_workers(
    config: WorkerConfig, train_fn: Callable[..., Any], parallel: int, tracker: Any
) -> None:
    if parallel == 1:
        work(tracker, config, train_fn)
        return
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=worker_main, args=(config, train_fn), name=f"modelboard-worker-{i}")
        for i in range(parallel)
    ]
    for process in processes:
        process.start()
    replacements = parallel  # a worker that dies is replaced, a few times at most
    try:
        while processes:
            time.sleep(0.2)
            for process in list(processes):
                if process.is_alive():
                    continue
                process.join()
                processes.remove(process)
                if process.exitcode != 0:
                    log.warning(
                        "modelboard: search worker %s ended with exit code %s; its trial is "
                        "taken again once its heartbeat is stale (%.0f s)",
                        process.name,
                        process.exitcode,
                        config.stale_after,
                    )
                    if replacements > 0 and claims.pending(tracker.store.engine, config.search_id):
                        replacements -= 1
                        fresh = context.Process(
                            target=worker_main, args=(config, train_fn), name=process.name
                        )
                        fresh.start()
                        processes.append(fresh)
    finally:
        for process in processes:  # interrupted: stop the workers we started
            if process.is_alive():
                process.terminate()
                process.join(10)


def _config(tracker: Any, search_run: Any, params: dict[str, Any], stale: float) -> WorkerConfig:
    return WorkerConfig(
        store_url=tracker.location.url,
        artifact_root=str(tracker.location.artifact_root),
        project=search_run.project,
        search_id=search_run.id,
        search_name=search_run.name,
        metric=str(params["metric"]),
        mode=str(params["mode"]),
        prune=params.get("prune"),
        stale_after=stale,
        heartbeat_timeout=tracker.store.heartbeat_timeout,
    )


def _store_plot(run: Any, result: SearchResult) -> None:
    from modelboard.experiments.plots import parallel_coordinates

    try:
        with tempfile.TemporaryDirectory() as folder:
            path = parallel_coordinates(
                result.trials, result.metric, result.mode, Path(folder) / "parallel_coordinates.png"
            )
            if path is not None:
                run.log_artifact(path, name=PLOT_ARTIFACT, kind="plot")
    except ImportError as exc:
        run.record.flags["plot_missing_reason"] = f"matplotlib is not installed ({exc})"
        log.warning("modelboard: no parallel-coordinates plot (matplotlib missing: %s)", exc)
    except Exception as exc:  # a plot must not lose the search's summary
        run.record.flags["plot_missing_reason"] = f"the plot failed: {exc!r}"
        log.warning("modelboard: the parallel-coordinates plot failed: %r", exc)


def _finish_search(run: Any, result: SearchResult) -> None:
    counts = result.counts()
    run.record.flags.update(
        {
            "best_trial": result.best_run_id,
            "best_trial_index": result.best_index,
            "best_value": result.best_value,
            "trials_finished": counts.get("finished", 0),
            "trials_failed": counts.get("failed", 0),
            "trials_pruned": counts.get("pruned", 0),
        }
    )
    left = counts.get("open", 0) + counts.get("running", 0)
    if left:
        run.record.flags["trials_not_run"] = left
        log.warning(
            "modelboard: %d trial(s) of search %s did not run to an end: the worker processes "
            "ended with errors (see above). Run them with mb.search(train_fn, join=%r) or "
            "modelboard search --join %s FILE.py",
            left,
            run.id[:8],
            run.id,
            run.id[:8],
        )
    if result.best_run_id is None:
        run.record.flags["best_trial_reason"] = "no trial finished with a value"
    _store_plot(run, result)


def _join(
    tracker: Any, train_fn: Callable[..., Any], join: str, parallel: int, stale: float
) -> SearchResult:
    stored = tracker.store.get_run(join)
    params = stored.params
    if stored.tags.get("search") != "true" or "metric" not in params:
        raise ValueError(
            f"run {stored.id[:8]} ({stored.name}) is not a search run: pass join= the id that "
            "mb.search printed or returned (SearchResult.search_id)"
        )
    config = _config(tracker, stored, params, stale)
    _run_workers(config, train_fn, parallel, tracker)
    return _result(tracker.store.engine, stored.id, config.metric, config.mode)


def search(
    train_fn: Callable[..., Any],
    space: Space | None = None,
    *,
    n_trials: int | None = 10,
    strategy: str = "random",
    metric: str = "val_accuracy",
    mode: str = "max",
    seed: int | None = 0,
    parallel: int = 1,
    tracker: Tracker | None = None,
    prune: str | None = None,
    join: str | None = None,
    name: str | None = None,
    stale_after: float | None = None,
) -> SearchResult:
    """Run a hyperparameter search; every trial is a child run of one search run.

    ``train_fn(params, run)`` trains with the trial's ``params`` (a dict), logs on ``run`` (a
    ``TrialRun``: ``run.log``, ``run.track(model)``...) and returns the value of ``metric``; if
    it returns ``None`` the value is read from the run as ``modelboard ls`` reads ``metric``
    (the evaluation value from ``run.evaluate``, else the last logged value). A trial that
    raises is recorded as ``failed`` (with its error) and the search goes on.

    ``space`` maps names to lists or scipy distributions (``strategy="random"``: scikit-learn's
    ``ParameterSampler`` draws ``n_trials`` with ``seed``; ``"grid"``: ``ParameterGrid``, all
    combinations or the first ``n_trials``). ``parallel=N`` runs N worker processes against the
    same store; ``join=SEARCH_ID`` adds workers (here, or on another machine sharing a
    PostgreSQL store) to a search already started: they take only trials nobody has taken.
    ``prune="median"`` stops a trial that logs ``metric`` at an epoch worse than the median of
    the finished trials there (status ``pruned``). ``stale_after`` (default 60 s) is how long a
    claimed trial may go without a heartbeat before another worker takes it again.
    """
    from modelboard.tracking import Tracker as _Tracker

    stale = claims.stale_after(stale_after)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ValueError(f"parallel must be a whole number of processes >= 1; got {parallel!r}")
    if not callable(train_fn):
        raise TypeError(f"train_fn must be a function train_fn(params, run); got {train_fn!r}")
    if parallel > 1:
        _check_importable(train_fn)  # before anything is stored
    own_tracker = tracker is None
    if tracker is None:
        tracker = _Tracker()
    try:
        if join is not None:
            return _join(tracker, train_fn, join, parallel, stale)
        if space is None:
            raise ValueError("space is required (a dict of name to values or distributions)")
        _check(metric, mode, prune, parallel)
        trials = draw_trials(space, strategy, n_trials, seed)
        params = {
            "strategy": strategy,
            "seed": seed,
            "n_trials": len(trials),
            "metric": metric,
            "mode": mode,
            "prune": prune,
            "space": describe_space(space),
        }
        with tracker.start_run(name or "search", hparams=params, tags={"search": "true"}) as run:
            claims.add_trials(tracker.store.engine, run.id, trials)
            config = _config(tracker, run.record, params, stale)
            _run_workers(config, train_fn, parallel, tracker)
            result = _result(tracker.store.engine, run.id, metric, mode)
            _finish_search(run, result)
        return result
    finally:
        if own_tracker:
            tracker.close()
