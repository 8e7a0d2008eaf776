"""TensorBoard's ``SummaryWriter``. For PyTorch it runs TF-free, as a PyTorch-only user has it:
``tensorboard.compat.tf()`` imports the stub when the module ``tensorboard.compat.notf`` can be
imported, so registering that module makes it skip TensorFlow even where TensorFlow is
installed."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

from benchmarks.figures.overhead import EVERY, KerasVariant, TorchVariant

__all__ = ["TorchTensorBoard", "KerasTensorBoard", "without_tensorflow", "log_rate"]


def without_tensorflow() -> None:
    """Make tensorboard use its TF-free stub in this process (before it is first used)."""
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))


class TorchTensorBoard(TorchVariant):
    label = (
        f"TensorBoard `SummaryWriter` (TF-free): scalars per epoch + gradient histograms every "
        f"{EVERY} steps"
    )
    peer = "tensorboard"

    def start(self, model: Any, optimizer: Any, folder: Path) -> None:
        without_tensorflow()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder / "tensorboard"))
        named = list(model.named_parameters())
        writer = self.writer

        def on_step(step: int, model: Any) -> None:
            if step % EVERY == 0:
                for name, parameter in named:
                    writer.add_histogram(f"grad/{name}", parameter.grad, step)

        self.on_step = on_step

    def epoch_end(self, epoch: int, loss: float) -> None:
        self.writer.add_scalar("loss", loss, epoch)

    def stop(self) -> None:
        self.writer.close()


class KerasTensorBoard(KerasVariant):
    label = (
        "TensorBoard `keras.callbacks.TensorBoard(histogram_freq=1)`: scalars and weight "
        "histograms per epoch (Keras's callback offers no gradient histograms)"
    )
    peer = "tensorboard"

    def prepare(self, model: Any, folder: Path) -> None:
        self.folder = folder / "tensorboard-keras"

    def callbacks(self) -> list[Any]:
        import keras

        return [
            keras.callbacks.TensorBoard(
                str(self.folder), histogram_freq=1, update_freq="epoch", write_graph=False
            )
        ]


def log_rate(keys: list[str], steps: int, folder: Path) -> float:
    """Points/s of ``SummaryWriter.add_scalar`` (TF-free) of ``steps`` x ``keys`` until
    ``close()`` returns (the event file flushed)."""
    import time

    without_tensorflow()
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder / "tensorboard-rate"))
    start = time.perf_counter()
    for step in range(steps):
        for key in keys:
            writer.add_scalar(key, 0.5, step)
    writer.close()
    return len(keys) * steps / (time.perf_counter() - start)
