"""Attaching to a torch training loop: the gradients backward produced, captured every N steps,
and the optimizers' records (learning rates, schedulers) kept current.

What is captured. On a capture step, ``Tensor.register_post_accumulate_grad_hook`` hooks on the
tracked module's parameters see each ``.grad`` right after backward accumulated it, so the
statistics are of the gradients backward PRODUCED: before ``clip_grad_norm_`` or
``clip_grad_value_``, and, with gradient accumulation, of the step's accumulated gradient (each
micro-batch's hook overwrites the last). The statistics stay on the device until one read-back.
The hooks are installed only around capture steps: the step post-hook of the step before a
capture step installs them and the capture step removes them, so a non-capture step costs one
Python call per hook (the optimizer's step pre- and post-hook) and nothing per parameter.

At the optimizer step the norm of what the optimizer applies is computed too; the record holds
both (``global_norm`` produced, ``applied_global_norm``, ``clipped``). The health flags come
from the produced gradients. A gradient that no backward hook saw (set by hand, or left from
before tracking began) is read at the step.

AMP. ``scaler.scale(loss).backward()`` produces scaled gradients; ``GradScaler.step`` unscales
``.grad`` in place (or hands the scale to a fused optimizer as ``optimizer.grad_scale``) and
then calls ``optimizer.step()`` from its own ``step`` (torch/amp/grad_scaler.py). The step
pre-hook finds that GradScaler among its callers' frames (or takes ``grad_scaler=``) and divides
its scale out of the produced statistics; the scale in force at backward is still the scale at
the step, since ``update()`` comes after. A step GradScaler skips (inf/NaN) calls no optimizer
step and is not counted; its produced rows are dropped at the next window.

Optimizers. ``optimizer=`` (one, a list or a dict, see ``optimizers``) is hooked directly.
Without it, torch's global ``register_optimizer_step_pre_hook``/``post_hook`` see every
optimizer step of the process; an optimizer whose parameters belong to the tracked module is
adopted at its first step (recorded in ``NetworkRecord.optimizers``). Until one is adopted,
backward passes are counted (one callback queued per backward) and every ``gradients_every``-th
is captured with ``optimizer=None``; once one is, the steps count as with a given optimizer.
While searching, the hooks stay on until every adopted optimizer took two steps, so the second
optimizer of a GAN is seen at its first step too. If no optimizer was found by ``detach()``,
``NetworkRecord.unknown["optimizer"]`` says why and a warning is given once.

Learning rate. Each step compares the param groups' learning rates with the recorded ones (a
tuple read). The metric ``learning_rate`` (``learning_rate_<key>`` with several optimizers) is
logged at the optimizer's first step and at each step where the first group's rate changed,
with the optimizer's step count as its step; it does not move ``run.log``'s default step.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import unwrap_module
from modelboard.adapters.torch.gradients import (
    append_update_ratios,
    copies,
    global_norm,
    gradient_row,
    read_table,
    stats_from_rows_of,
    table_from_rows,
)
from modelboard.adapters.torch.optimizers import (
    describe_optimizer,
    find_schedulers,
    initial_learning_rate,
    keyed_optimizers,
    learning_rates,
    optimizer_key,
    schedulers_from_option,
)
from modelboard.gradients import DEFAULT_GRADIENTS_EVERY, make_gradient_record

if TYPE_CHECKING:
    import torch

    from modelboard.tracking.run import Run

__all__ = ["TorchTrainingHandle", "attach_training", "OPTIMIZER_UPDATE_INTERVAL_S"]

OPTIMIZER_UPDATE_INTERVAL_S = 1.0
"""At most one write of a changed optimizer record per this many seconds (and one at detach)."""

UPDATE_RATIO_MAX_BYTES = 512 * 1024 * 1024
"""Above this many bytes of parameters, captures skip the update ratio unless asked for it."""

NO_OPTIMIZER_REASON = (
    "no optimizer was given (optimizer=) and no optimizer stepped the tracked module's "
    "parameters while the run was tracked"
)

_SCALER_FRAMES = 8  # how far up the stack a GradScaler.step may be from the step pre-hook


class _Tracked:
    """One optimizer of the run: its key, step count and recorded learning rates."""

    __slots__ = ("optimizer", "key", "step", "lrs", "initial", "schedulers", "logged_lr", "seen")

    def __init__(self, optimizer: Any, key: str, schedulers: list[Any]) -> None:
        self.optimizer = optimizer
        self.key = key
        self.step = 0
        self.lrs = learning_rates(optimizer)
        self.initial = initial_learning_rate(optimizer)
        self.schedulers = schedulers
        self.logged_lr: Any = None
        self.seen = False  # its first step was seen (and its learning rate logged)


class _Capture:
    """What a capture step keeps between the step pre-hook and post-hook."""

    __slots__ = ("step", "key", "names", "shapes", "params", "grads", "before", "table", "applied")

    def __init__(self, step: int, key: str | None, names: list[str], shapes: list[list[int]],
                 params: list[Any], grads: list[Any], before: list[Any] | None, table: Any,
                 applied: Any) -> None:  # fmt: skip
        self.step = step
        self.key = key
        self.names = names
        self.shapes = shapes
        self.params = params
        self.grads = grads
        self.before = before
        self.table = table
        self.applied = applied


class TorchTrainingHandle:
    """The hooks of one run on a module and its optimizers. ``detach()`` removes them (safe to
    call twice). Each optimizer's ``step`` counts its steps since tracking began (or since it
    was adopted); a capture happens when ``step % every == 0``."""

    def __init__(
        self,
        run: Run,
        module: torch.nn.Module,
        optimizers: list[tuple[str, Any]],
        schedulers: list[Any] | None = None,
        every: int = DEFAULT_GRADIENTS_EVERY,
        update_ratio: bool | None = None,
        grad_scaler: Any = None,
    ) -> None:
        self.run = run
        self.module = unwrap_module(module)
        named = [(n, p) for n, p in self.module.named_parameters() if p.requires_grad]
        if update_ratio is None:  # the ratio copies every parameter once per capture
            size = sum(p.numel() * p.element_size() for _, p in named)
            update_ratio = size <= UPDATE_RATIO_MAX_BYTES
        self.update_ratio = bool(update_ratio)
        self.every = int(every)
        self.grad_scaler = grad_scaler
        self.attached: list[Any] = []  # further handles (first-batch capture), detached with us
        self._names = {id(p): n for n, p in self.module.named_parameters()}
        self._params = [p for _, p in named]
        self._given_schedulers = list(schedulers or [])
        self._tracked: dict[int, _Tracked] = {}
        self._ignored: set[int] = set()  # optimizers seen stepping other parameters
        self._handles: list[Any] = []
        self._param_handles: list[Any] = []
        self._rows: dict[int, Any] = {}
        self._pending: _Capture | None = None
        self._search = not optimizers
        self._backward_index = 0  # backward passes seen while no optimizer is known
        self._in_backward = False
        self._backward_capture: _Capture | None = None  # a captured backward not yet recorded
        self._optimizer_dirty = False
        self._last_optimizer_write = 0.0
        self._failed = False
        self._detached = False
        for key, optimizer in optimizers:
            self._track_optimizer(optimizer, key)
            self._handles.append(optimizer.register_step_pre_hook(self._pre_step))
            self._handles.append(optimizer.register_step_post_hook(self._post_step))
        if self._search:
            from torch.optim.optimizer import (
                register_optimizer_step_post_hook,
                register_optimizer_step_pre_hook,
            )

            self._handles.append(register_optimizer_step_pre_hook(self._global_pre_step))
            self._handles.append(register_optimizer_step_post_hook(self._global_post_step))
        self._update_window()

    @property
    def optimizers(self) -> list[Any]:
        """The optimizers given or adopted, in the order they were first seen."""
        return [t.optimizer for t in self._tracked.values()]

    # -- optimizers ---------------------------------------------------------------------------

    def _track_optimizer(self, optimizer: Any, key: str) -> _Tracked:
        mine = [s for s in self._given_schedulers if getattr(s, "optimizer", None) is optimizer]
        tracked = _Tracked(optimizer, key, mine)
        self._tracked[id(optimizer)] = tracked
        return tracked

    def _adopt(self, optimizer: Any) -> _Tracked | None:
        """The tracked state of an optimizer stepping in search mode (adopting it when its
        parameters belong to the tracked module), ``None`` for another model's optimizer."""
        ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if not ids or not ids <= set(self._names):
            self._ignored.add(id(optimizer))
            return None
        # one optimizer of the whole module is "optimizer"; one of a part is named by its part
        whole = ids >= {id(p) for p in self._params}
        count = 1 if whole else 2
        key = optimizer_key(optimizer, self.module, len(self._tracked), count)
        if any(t.key == key for t in self._tracked.values()):
            key = f"optimizer_{len(self._tracked)}"
        tracked = self._track_optimizer(optimizer, key)
        self._optimizer_dirty = True
        self._backward_capture = None  # its rows now belong to this optimizer's first step
        return tracked

    def _global_pre_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        key = id(optimizer)
        if key in self._ignored:
            return
        tracked = self._tracked.get(key)
        if tracked is None:
            tracked = self._adopt(optimizer)
            if tracked is None:
                return
        self._pre_step(optimizer, args, kwargs, tracked)

    def _global_post_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        tracked = self._tracked.get(id(optimizer))
        if tracked is not None:
            self._post_step(optimizer, args, kwargs, tracked)

    # -- step hooks ---------------------------------------------------------------------------

    def _pre_step(
        self, optimizer: Any, args: Any, kwargs: Any, tracked: _Tracked | None = None
    ) -> None:
        tracked = tracked or self._tracked[id(optimizer)]
        lrs = learning_rates(optimizer)
        if lrs != tracked.lrs or not tracked.seen:
            self._learning_rate_changed(tracked, lrs)
        if self._optimizer_dirty:
            now = time.monotonic()
            if now - self._last_optimizer_write >= OPTIMIZER_UPDATE_INTERVAL_S:
                self._write_optimizers(now)
        if self.every > 0 and not self._failed and tracked.step % self.every == 0:
            try:
                self._pending = self._begin_capture(tracked, kwargs)
            except Exception as exc:  # never break the user's training for a statistic
                self._give_up(exc)

    def _post_step(
        self, optimizer: Any, args: Any, kwargs: Any, tracked: _Tracked | None = None
    ) -> None:
        tracked = tracked or self._tracked[id(optimizer)]
        pending, self._pending = self._pending, None
        tracked.step += 1
        if pending is not None:
            try:
                self._finish_capture(pending)
            except Exception as exc:
                self._give_up(exc)
        self._update_window()

    def _learning_rate_changed(self, tracked: _Tracked, lrs: tuple[Any, ...]) -> None:
        if tracked.seen:
            self._optimizer_dirty = True
        tracked.lrs = lrs
        tracked.seen = True
        first = lrs[0] if lrs else None
        if isinstance(first, (int, float)) and first != tracked.logged_lr:
            tracked.logged_lr = first
            name = "learning_rate" if tracked.key == "optimizer" else f"learning_rate_{tracked.key}"
            if not self.run.finished:  # its own step: the user's run.log steps stay theirs
                self.run.log_point(name, tracked.step, float(first))

    # -- the window of parameter hooks ----------------------------------------------------------

    def _window_needed(self) -> bool:
        if self.every <= 0 or self._failed or self._detached:
            return False
        if not self._tracked:
            return self._search  # counting backward passes until an optimizer steps
        if self._search and any(t.step < 2 for t in self._tracked.values()):
            return True
        return any(t.step % self.every == 0 for t in self._tracked.values())

    def _update_window(self) -> None:
        if self._window_needed():
            if not self._param_handles:
                self._rows.clear()
                self._param_handles = [
                    p.register_post_accumulate_grad_hook(self._on_grad) for p in self._params
                ]
        elif self._param_handles:
            self._close_window()

    def _close_window(self) -> None:
        handles, self._param_handles = self._param_handles, []
        for handle in handles:
            handle.remove()
        self._rows.clear()

    def _on_grad(self, param: Any) -> None:
        """Post-accumulate-grad hook: keep the statistics of ``param.grad`` as produced."""
        if self._failed:
            return
        try:
            if not self._tracked:
                if not self._in_backward:
                    self._backward_started()
                if self._backward_index % self.every != 0:
                    return
            if param.grad is not None:
                self._rows[id(param)] = gradient_row(param.grad)
        except Exception as exc:
            self._give_up(exc)

    def _backward_started(self) -> None:
        """The first hook of a backward pass while no optimizer is known: count it."""
        import torch

        self._record_backward()  # the last captured backward had no optimizer step after it
        self._in_backward = True
        torch.autograd.Variable._execution_engine.queue_callback(self._backward_done)
        if self._backward_index % self.every == 0:
            self._rows.clear()

    def _backward_done(self) -> None:
        """Queued at the end of a counted backward pass: a capture pass's statistics are
        assembled now (while ``.grad`` holds them) and recorded unless an optimizer steps
        first (then they are its first step's)."""
        self._in_backward = False
        index = self._backward_index
        self._backward_index += 1
        if index % self.every != 0 or not self._rows or self._failed:
            return
        try:
            params = [p for p in self._params if id(p) in self._rows and p.grad is not None]
            if not params:
                return
            inv = _scaler_inverse(self.grad_scaler)
            rows = [self._rows[id(p)] for p in params]
            numels = [p.numel() for p in params]
            table = table_from_rows(rows, numels, params, row_scales=[inv] * len(params))
            self._backward_capture = _Capture(index, None, self._param_names(params),
                                              _shapes(params), params, [p.grad for p in params],
                                              None, table, None)  # fmt: skip
        except Exception as exc:
            self._give_up(exc)

    def _record_backward(self) -> None:
        capture, self._backward_capture = self._backward_capture, None
        if capture is not None:
            self._finish_capture(capture)

    # -- capture ------------------------------------------------------------------------------

    def _param_names(self, params: list[Any]) -> list[str]:
        return [self._names.get(id(p), f"param{i}") for i, p in enumerate(params)]

    def _begin_capture(self, tracked: _Tracked, kwargs: dict[str, Any]) -> _Capture | None:
        optimizer = tracked.optimizer
        params, names = [], []
        for g_index, group in enumerate(optimizer.param_groups):
            for p_index, param in enumerate(group["params"]):
                if param.grad is None:
                    continue
                params.append(param)
                names.append(self._names.get(id(param), f"group{g_index}.param{p_index}"))
        if not params:
            return None
        grads = [p.grad for p in params]
        scaler = self.grad_scaler or _calling_grad_scaler()
        produced_inv = _scaler_inverse(scaler)
        applied_inv = _fused_inverse(optimizer, kwargs)
        rows, scales, seen = [], [], 0
        for param in params:
            row = self._rows.pop(id(param), None)
            if row is not None:
                seen += 1
                rows.append(row)
                scales.append(produced_inv)
            else:  # no backward hook saw it: what the optimizer applies is all there is
                rows.append(gradient_row(param.grad))
                scales.append(applied_inv)
        numels = [p.numel() for p in params]
        table = table_from_rows(rows, numels, params, row_scales=scales)
        applied = global_norm(grads, applied_inv) if seen else None
        before = copies(params) if self.update_ratio else None
        return _Capture(tracked.step, tracked.key, names, _shapes(params), params, grads,
                        before, table, applied)  # fmt: skip

    def _finish_capture(self, capture: _Capture) -> None:
        table = capture.table
        if capture.before is not None:
            table = append_update_ratios(table, capture.before, capture.params)
        rows, applied_norm = read_table(table, capture.applied)  # one transfer for both
        stats = stats_from_rows_of(capture.names, capture.shapes, rows, capture.grads)
        if self.run.finished:
            return
        record = make_gradient_record(
            stats,
            step=capture.step,
            source="training",
            optimizer=capture.key,
            applied_global_norm=applied_norm,
        )
        self.run.log_gradients(record)

    def _give_up(self, exc: Exception) -> None:
        self._failed = True
        self._pending = None
        self._close_window()
        warnings.warn(
            f"modelboard stopped capturing gradients of run {self.run.id[:8]}: "
            f"{type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=3,
        )

    # -- optimizer records --------------------------------------------------------------------

    def _write_optimizers(self, now: float) -> None:
        self._optimizer_dirty = False
        self._last_optimizer_write = now
        if not self._tracked or self.run.network is None or self.run.finished:
            return
        records = [
            describe_optimizer(
                t.optimizer, t.schedulers or None, key=t.key, learning_rate=t.initial
            )
            for t in self._tracked.values()
        ]
        self.run.update_network(optimizer=records[0], optimizers=records)

    def refresh_optimizer(self) -> None:
        """Write the optimizer records now (learning rates, scheduler state)."""
        self._write_optimizers(time.monotonic())

    def detach(self) -> None:
        """Remove every hook; find the optimizers' schedulers (once, see ``optimizers``) and
        write the optimizer records; record why the optimizer is unknown if none was found."""
        if self._detached:
            return
        self._detached = True
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()
        if not self._tracked and not self._failed:
            try:
                self._record_backward()
            except Exception as exc:
                self._give_up(exc)
        self._close_window()
        attached, self.attached = self.attached, []
        for other in attached:
            other.detach()
        self._pending = None
        if self.run.finished or self.run.network is None:
            return
        for tracked in self._tracked.values():
            if not tracked.schedulers and not self._given_schedulers:
                tracked.schedulers = find_schedulers(tracked.optimizer)
        if self._tracked:
            self.refresh_optimizer()
        elif self._search and "optimizer" not in self.run.network.unknown:
            warnings.warn(
                f"modelboard: run {self.run.id[:8]} has no optimizer record: {NO_OPTIMIZER_REASON}",
                RuntimeWarning,
                stacklevel=2,
            )
            unknown = dict(self.run.network.unknown, optimizer=NO_OPTIMIZER_REASON)
            self.run.update_network(unknown=unknown)


def _shapes(params: list[Any]) -> list[list[int]]:
    return [list(p.shape) for p in params]


def _calling_grad_scaler() -> Any:
    """The ``torch.amp.GradScaler`` whose ``step`` is calling this optimizer step, if any."""
    from torch.amp import GradScaler

    frame = sys._getframe(1)
    for _ in range(_SCALER_FRAMES):
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return None
        owner = frame.f_locals.get("self") if frame.f_code.co_name in _SCALER_CALLS else None
        if isinstance(owner, GradScaler):
            return owner
    return None


_SCALER_CALLS = ("step", "_maybe_opt_step")


def _scaler_inverse(scaler: Any) -> Any:
    """1/scale of an enabled GradScaler that has scaled something, else ``None``."""
    if scaler is None or not scaler.is_enabled():
        return None
    scale = scaler._get_scale_async()
    if scale is None:
        return None
    return 1.0 / scale.double() if scale.device.type != "mps" else 1.0 / scale.float()


def _fused_inverse(optimizer: Any, kwargs: dict[str, Any]) -> Any:
    """1/scale when ``.grad`` still carries the scale at the step (optimizers that take it
    themselves: GradScaler sets ``optimizer.grad_scale`` or passes ``grad_scaler=``)."""
    scale = getattr(optimizer, "grad_scale", None)
    scaler = kwargs.get("grad_scaler") if kwargs else None
    if scale is None and scaler is not None:
        scale = scaler._get_scale_async()
    if scale is None:
        return None
    return 1.0 / scale.double() if scale.device.type != "mps" else 1.0 / scale.float()


def _grad_scaler_option(value: Any) -> Any:
    if value is None:
        return None
    from torch.amp import GradScaler

    if not isinstance(value, GradScaler):
        raise TypeError(
            f"grad_scaler= must be a torch.amp.GradScaler; got {type(value).__qualname__}"
        )
    return value


def attach_training(obj: torch.nn.Module, run: Run, options: dict[str, Any]) -> TorchTrainingHandle:
    """Hook the training loop of ``obj`` (see the module docstring).

    ``optimizer`` (one, a list or a dict; none: found at their steps), ``scheduler`` (one or a
    list; none: found from the optimizers at detach), ``gradients_every`` (default
    ``DEFAULT_GRADIENTS_EVERY``, 0 = off), ``update_ratio`` (|update| / |weight| per capture;
    default: for models of at most ``UPDATE_RATIO_MAX_BYTES``, since it copies the parameters
    once per capture) and ``grad_scaler`` (the GradScaler, when its ``step`` does not call the
    optimizer's).
    """
    every = options.get("gradients_every")
    return TorchTrainingHandle(
        run,
        obj,
        keyed_optimizers(unwrap_module(obj), options.get("optimizer")),
        schedulers_from_option(options.get("scheduler")),
        DEFAULT_GRADIENTS_EVERY if every is None else int(every),
        options.get("update_ratio"),
        _grad_scaler_option(options.get("grad_scaler")),
    )
