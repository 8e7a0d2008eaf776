"""MLflow on a local SQLite file (``MLFLOW_TRACKING_URI``, set by the harness)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.figures.overhead import KerasVariant, TorchVariant

__all__ = ["TorchMLflow", "KerasMLflow", "log_rate"]


class TorchMLflow(TorchVariant):
    label = "MLflow `log_params` + `log_metric` per epoch"
    peer = "mlflow"

    def start(self, model: Any, optimizer: Any, folder: Path) -> None:
        import mlflow

        self.mlflow = mlflow
        mlflow.start_run()
        mlflow.log_params({"optimizer": "adam", "learning_rate": 1e-3, "batch_size": 32})

    def epoch_end(self, epoch: int, loss: float) -> None:
        self.mlflow.log_metric("loss", loss, step=epoch)

    def stop(self) -> None:
        self.mlflow.end_run()


class KerasMLflow(KerasVariant):
    label = "MLflow `mlflow.keras.autolog(log_models=False)`"
    peer = "mlflow"

    def prepare(self, model: Any, folder: Path) -> None:
        import mlflow
        import mlflow.keras

        self.mlflow = mlflow

    def before_fit(self) -> None:
        # autolog patches every model's fit: on for this variant's fits only
        self.mlflow.keras.autolog(log_models=False, silent=True)

    def after_fit(self) -> None:
        self.mlflow.keras.autolog(disable=True, silent=True)
        if self.mlflow.active_run() is not None:
            self.mlflow.end_run()


def log_rate(keys: list[str], steps: int) -> float:
    """Points/s of ``MlflowClient.log_batch`` of ``steps`` x ``keys``, 1,000 metrics a call
    (MLflow's limit), until every point is stored."""
    import time

    import mlflow
    from mlflow.entities import Metric

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("Default")
    if experiment is None:
        raise RuntimeError("MLflow's store has no Default experiment")
    run_id = client.create_run(experiment.experiment_id).info.run_id
    now = int(time.time() * 1000)
    start = time.perf_counter()
    batch: list[Any] = []
    for step in range(steps):
        batch.extend(Metric(key, 0.5, now, step) for key in keys)
        if len(batch) >= 1000:
            client.log_batch(run_id, metrics=batch[:1000])
            batch = batch[1000:]
    if batch:
        client.log_batch(run_id, metrics=batch)
    client.set_terminated(run_id)
    elapsed = time.perf_counter() - start
    stored = len(client.get_metric_history(run_id, keys[0]))
    if stored != steps:
        raise RuntimeError(f"MLflow stored {stored} of {steps} points of {keys[0]!r}")
    return len(keys) * steps / elapsed
