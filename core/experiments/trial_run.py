"""``TrialRun``: the run a search hands to ``train_fn``, a ``Run`` that knows its trial.

It logs like any run. Two things more:

- ``run.track(model, **options)`` records the model on this run, as ``tracker.track`` does for
  a new one (network record, training curves from the adapter's hooks).
- With ``prune="median"``, each ``run.log(epoch=k, <metric>=v)`` of the search's metric checks
  the median rule and raises ``TrialPruned`` when the trial is worse than the median of the
  finished trials at epoch k. The exception leaves ``train_fn`` (out of ``model.fit`` too), and
  the search records the trial as ``pruned``. ``run.should_prune()`` asks without raising.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelboard.experiments.pruning import is_worse, median_at_epoch
from modelboard.tracking import Run

if TYPE_CHECKING:
    import pluggy

    from modelboard.records import RunRecord
    from modelboard.store import SQLStore

__all__ = ["TrialPruned", "TrialRun"]


class TrialPruned(Exception):  # noqa: N818 - the name says what happened, as in other tuners
    """Raised inside ``train_fn`` to stop a trial as pruned (the median rule raises it)."""


class TrialRun(Run):
    """A trial of a search: ``index``, ``params``, ``search_id`` beside everything a ``Run`` has."""

    def __init__(
        self,
        record: RunRecord,
        store: SQLStore,
        plugin_manager: pluggy.PluginManager,
        *,
        search_id: str,
        index: int,
        params: dict[str, Any],
        metric: str,
        mode: str,
        prune: str | None,
    ) -> None:
        super().__init__(record, store, plugin_manager)
        self.search_id = search_id
        self.index = index
        self.params = dict(params)
        self.metric = metric
        self.mode = mode
        self.prune = prune
        self.pruned_at: int | None = None
        self._latest: tuple[int, float] | None = None

    def track(self, model: Any, **options: Any) -> TrialRun:
        """Record ``model`` on this run, as ``tracker.track`` records one on a new run."""
        from modelboard.errors import UnsupportedModelError

        hook = self._plugins.hook
        info = hook.modelboard_detect_framework(obj=model)
        if info is None:
            from modelboard.plugins import adapter_names

            raise UnsupportedModelError(model, adapter_names(self._plugins))
        declared = hook.modelboard_track_options(obj=model)
        if declared is not None:
            from modelboard.plugins.options import check_track_options

            check_track_options(info.name, declared, options)
        self._check_open("track a model")
        self.detach()
        self.model = model
        self.options = dict(options)
        self.record.framework = info.name
        self.record.framework_version = info.version
        network = hook.modelboard_describe_network(obj=model, options=options)
        if network is not None:
            self.set_network(network)
        self._writer.put_run(self.record)
        self.flush()
        self.attach(hook.modelboard_attach_training(obj=model, run=self, options=options))
        return self

    def log(self, step: int | None = None, epoch: int | None = None, **metrics: Any) -> None:
        """Log as ``Run.log``; with median pruning on, raise ``TrialPruned`` when this epoch's
        value of the search metric is worse than the median of the finished trials."""
        super().log(step=step, epoch=epoch, **metrics)
        if epoch is None or self.metric not in metrics:
            return
        value = float(metrics[self.metric])
        self._latest = (int(epoch), value)
        if self.prune == "median" and self.should_prune():
            self.pruned_at = int(epoch)
            ran = len(self._epochs_seen)  # the epoch just logged ran: count it before stopping
            if self.network is not None and (self.network.epochs_run or 0) < ran:
                self.update_network(epochs_run=ran)
            raise TrialPruned(
                f"trial {self.index}: {self.metric}={value:.6g} at epoch {epoch} is worse than "
                "the median of the finished trials (prune='median')"
            )

    def should_prune(self) -> bool:
        """True when the last logged value of the search metric (with an epoch) is worse than
        the median of the finished trials' values at that epoch."""
        if self._latest is None:
            return False
        epoch, value = self._latest
        if value != value:
            return False
        median = median_at_epoch(self._store.engine, self.search_id, self.metric, epoch)
        return median is not None and is_worse(value, median, self.mode)
