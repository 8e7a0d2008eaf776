"""Attaching to a torch training loop: optimizer step hooks that capture gradients every N
steps and keep the recorded optimizer (learning rates, scheduler) current.

The step pre-hook sees ``p.grad`` right before ``optimizer.step()``; on a capture step it
computes the statistics on the device and snapshots the weights, and the step post-hook adds
|update| / |weight| and reads everything back in one transfer. With ``GradScaler.step`` the
gradients are already unscaled when the optimizer steps (non-fused optimizers); for optimizers
that take the scale themselves (fused) the scale is divided out, so records are always of
unscaled gradients (``scaled=False``). A step that GradScaler skips (inf/NaN found) calls no
optimizer step and is not counted.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import unwrap_module
from modelboard.adapters.torch.gradients import (
    append_update_ratios,
    gradient_table,
    stats_from_table,
)
from modelboard.adapters.torch.network import describe_optimizer, learning_rates
from modelboard.gradients import DEFAULT_GRADIENTS_EVERY, make_gradient_record

if TYPE_CHECKING:
    import torch

    from modelboard.tracking.run import Run

__all__ = ["TorchTrainingHandle", "attach_training", "OPTIMIZER_UPDATE_INTERVAL_S"]

OPTIMIZER_UPDATE_INTERVAL_S = 1.0
"""At most one write of a changed optimizer record per this many seconds (and one at detach)."""


UPDATE_RATIO_MAX_BYTES = 512 * 1024 * 1024
"""Above this many bytes of parameters, captures skip the update ratio unless asked for it."""


class _Capture:
    """What a capture step keeps between the pre-hook and the post-hook."""

    __slots__ = ("step", "names", "shapes", "params", "grads", "before", "table")
    before: list[Any] | None

    def __init__(
        self,
        step: int,
        names: list[str],
        shapes: list[list[int]],
        params: list[Any],
        grads: list[Any],
        before: list[Any] | None,
        table: Any,
    ) -> None:
        self.step = step
        self.names = names
        self.shapes = shapes
        self.params = params
        self.grads = grads
        self.before = before
        self.table = table


class TorchTrainingHandle:
    """The hooks on one optimizer for one run. ``detach()`` removes them (safe to call twice).

    ``step`` counts optimizer steps taken since tracking began; a capture happens when
    ``step % every == 0`` (the first step, then every ``every``-th).
    """

    def __init__(
        self,
        run: Run,
        module: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None,
        scheduler: Any = None,
        every: int = DEFAULT_GRADIENTS_EVERY,
        update_ratio: bool | None = None,
    ) -> None:
        self.run = run
        if update_ratio is None:  # the ratio copies every parameter once per capture
            size = sum(p.numel() * p.element_size() for p in unwrap_module(module).parameters())
            update_ratio = size <= UPDATE_RATIO_MAX_BYTES
        self.update_ratio = bool(update_ratio)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.every = int(every)
        self.step = 0
        self._handles: list[Any] = []
        self.attached: list[Any] = []  # further handles (first-batch capture), detached with us
        self._pending: _Capture | None = None
        self._names = {id(p): name for name, p in unwrap_module(module).named_parameters()}
        self._recorded_lrs: tuple[Any, ...] | None = None
        self._optimizer_dirty = False
        self._last_optimizer_write = 0.0
        self._failed = False
        if optimizer is not None:
            self._recorded_lrs = learning_rates(optimizer)
            self._handles.append(optimizer.register_step_pre_hook(self._pre_step))
            self._handles.append(optimizer.register_step_post_hook(self._post_step))

    # -- hooks --------------------------------------------------------------------------------

    def _pre_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        lrs = learning_rates(optimizer)
        if lrs != self._recorded_lrs:
            self._recorded_lrs = lrs
            self._optimizer_dirty = True
        if self._optimizer_dirty:
            now = time.monotonic()
            if now - self._last_optimizer_write >= OPTIMIZER_UPDATE_INTERVAL_S:
                self._write_optimizer(now)
        if self.every > 0 and not self._failed and self.step % self.every == 0:
            try:
                self._pending = self._begin_capture(optimizer, kwargs)
            except Exception as exc:  # never break the user's training for a statistic
                self._give_up(exc)

    def _post_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        pending, self._pending = self._pending, None
        self.step += 1
        if pending is None:
            return
        try:
            self._finish_capture(pending)
        except Exception as exc:
            self._give_up(exc)

    # -- capture ------------------------------------------------------------------------------

    def _begin_capture(self, optimizer: Any, kwargs: dict[str, Any]) -> _Capture | None:
        names, shapes, params, grads = [], [], [], []
        for g_index, group in enumerate(optimizer.param_groups):
            for p_index, param in enumerate(group["params"]):
                if param.grad is None:
                    continue
                names.append(self._names.get(id(param), f"group{g_index}.param{p_index}"))
                shapes.append(list(param.shape))
                params.append(param)
                grads.append(param.grad)
        if not params:
            return None
        table = gradient_table(grads, params, _inverse_scale(optimizer, kwargs))
        before = [p.detach().clone() for p in params] if self.update_ratio else None
        return _Capture(self.step, names, shapes, params, grads, before, table)

    def _finish_capture(self, capture: _Capture) -> None:
        table = capture.table
        if capture.before is not None:
            table = append_update_ratios(table, capture.before, capture.params)
        stats = stats_from_table(capture.names, capture.shapes, table, capture.grads)
        if self.run.finished:
            return
        self.run.log_gradients(make_gradient_record(stats, step=capture.step, source="training"))

    def _give_up(self, exc: Exception) -> None:
        self._failed = True
        self._pending = None
        warnings.warn(
            f"modelboard stopped capturing gradients of run {self.run.id[:8]}: "
            f"{type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=3,
        )

    # -- optimizer record ---------------------------------------------------------------------

    def _write_optimizer(self, now: float) -> None:
        self._optimizer_dirty = False
        self._last_optimizer_write = now
        if self.optimizer is None or self.run.network is None or self.run.finished:
            return
        self.run.update_network(optimizer=describe_optimizer(self.optimizer, self.scheduler))

    def refresh_optimizer(self) -> None:
        """Write the optimizer record now (learning rates, scheduler state)."""
        self._write_optimizer(time.monotonic())

    def detach(self) -> None:
        """Remove the hooks; write the optimizer record once more if it changed."""
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()
        attached, self.attached = self.attached, []
        for other in attached:
            other.detach()
        self._pending = None
        if not handles or self.optimizer is None:
            return
        if learning_rates(self.optimizer) != self._recorded_lrs or self._optimizer_dirty:
            self.refresh_optimizer()


def _inverse_scale(optimizer: Any, kwargs: dict[str, Any]) -> Any:
    """1/scale when the gradients still carry a GradScaler's scale (fused optimizers)."""
    scale = getattr(optimizer, "grad_scale", None)
    scaler = kwargs.get("grad_scaler") if kwargs else None
    if scale is None and scaler is not None:
        scale = getattr(scaler, "_scale", None)
    if scale is None:
        return None
    return 1.0 / scale.double() if scale.device.type != "mps" else 1.0 / scale.float()


def attach_training(obj: torch.nn.Module, run: Run, options: dict[str, Any]) -> TorchTrainingHandle:
    """Hook the optimizer in ``options`` (if any); ``gradients_every`` (default
    ``DEFAULT_GRADIENTS_EVERY``, 0 = off) sets how often gradients are captured, and
    ``update_ratio`` whether captures also measure |update| / |weight| (default: for models of
    at most ``UPDATE_RATIO_MAX_BYTES``, since it copies the parameters once per capture)."""
    every = options.get("gradients_every")
    return TorchTrainingHandle(
        run,
        obj,
        options.get("optimizer"),
        options.get("scheduler"),
        DEFAULT_GRADIENTS_EVERY if every is None else int(every),
        options.get("update_ratio"),
    )
