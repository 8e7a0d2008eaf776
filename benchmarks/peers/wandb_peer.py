"""Weights & Biases offline (``WANDB_MODE=offline``, its folder a temporary one): one W&B run
per process, reused by every round, since ``wandb.init`` starts a service process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.figures.overhead import EVERY, KerasVariant, TorchVariant

__all__ = ["TorchWandb", "KerasWandb", "log_rate"]

_RUN: list[Any] = []


def _run(folder: Path) -> Any:
    import wandb

    if not _RUN:
        _RUN.append(
            wandb.init(project="modelboard-bench", mode="offline", dir=str(folder), reinit=True)
        )
    return _RUN[0]


def _finish() -> None:
    if _RUN:
        _RUN.pop().finish()


class TorchWandb(TorchVariant):
    label = f'W&B offline, `watch(log="all", log_freq={EVERY})` + `log` per epoch'
    peer = "wandb"

    def start(self, model: Any, optimizer: Any, folder: Path) -> None:
        self.run = _run(folder)
        self.model = model
        self.run.watch(model, log="all", log_freq=EVERY)

    def epoch_end(self, epoch: int, loss: float) -> None:
        self.run.log({"epoch": epoch, "loss": loss})

    def stop(self) -> None:
        self.run.unwatch(self.model)

    def close(self) -> dict[str, Any]:
        _finish()
        return {}


class KerasWandb(KerasVariant):
    label = "W&B offline, `WandbMetricsLogger()`"
    peer = "wandb"

    def prepare(self, model: Any, folder: Path) -> None:
        self.run = _run(folder)

    def callbacks(self) -> list[Any]:
        from wandb.integration.keras import WandbMetricsLogger

        return [WandbMetricsLogger()]

    def close(self) -> dict[str, Any]:
        _finish()
        return {}


def log_rate(keys: list[str], steps: int, folder: Path) -> float:
    """Points/s of offline ``run.log`` of ``steps`` x ``keys`` until ``finish()`` returns (the
    run's file written and closed)."""
    import time

    import wandb

    run = wandb.init(project="modelboard-bench", mode="offline", dir=str(folder), reinit=True)
    start = time.perf_counter()
    for step in range(steps):
        run.log({key: 0.5 for key in keys}, step=step)
    run.finish()
    return len(keys) * steps / (time.perf_counter() - start)
