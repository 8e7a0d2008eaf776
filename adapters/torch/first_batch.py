"""The first training batch as the example input: layers from the user's own first forward.

When ``track()`` got no ``example_input``, :func:`attach_first_batch` puts a one-shot forward
pre-hook on the module. The first real forward (in the training loop, with the user's own
batch, grad mode and autocast) is recorded while it runs, with no extra forward pass: the
capture starts in the pre-hook and stops in a forward hook, and the run's network record gets
the executed layers, their signature and the input and output shapes. Then every hook is gone.

Where a capture cannot work it is skipped with a warning and the record keeps its module
listing (``NetworkRecord.unknown["layers"]`` says why): a ``torch.compile``-d module (the
function mode would be traced into the graph) and ``nn.DataParallel`` over several devices
(replicas run in threads the mode does not watch). A forward that raises is not recorded; the
next forward is tried instead.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import unwrap_module
from modelboard.adapters.torch.graph import OperationCapture

if TYPE_CHECKING:
    import torch

    from modelboard.tracking.run import Run

__all__ = ["FirstBatchCapture", "attach_first_batch"]


class FirstBatchCapture:
    """The hooks waiting for the first forward of ``module``; ``detach()`` removes them."""

    def __init__(self, module: torch.nn.Module, run: Run) -> None:
        self.module = module
        self.run = run
        self.done = False
        self._capture: OperationCapture | None = None
        self._handles = [
            module.register_forward_pre_hook(self._begin, with_kwargs=True),
            module.register_forward_hook(self._end, always_call=True),
        ]

    def _begin(self, module: Any, args: Any, kwargs: Any) -> None:
        import torch

        if self._capture is not None:  # the root called again inside its own forward
            return
        if torch.compiler.is_compiling():
            self._skip("the module runs under torch.compile")
            return
        if len(args) == 1 and not kwargs:
            inputs: Any = args[0]
        elif not kwargs:
            inputs = list(args)
        elif not args:
            inputs = dict(kwargs)
        else:
            inputs = [*args, dict(kwargs)]
        capture = OperationCapture(module)
        try:
            capture.start(inputs)
        except Exception as exc:  # never break the user's training for a record
            capture.stop(None)
            self._skip(f"{type(exc).__name__}: {exc}")
            return
        self._capture = capture

    def _end(self, module: Any, args: Any, output: Any) -> None:
        capture, self._capture = self._capture, None
        if capture is None:
            return
        capture.stop(output)
        if output is None:  # the forward raised (always_call): try the next one
            return
        self.detach()
        try:
            self._write(capture)
        except Exception as exc:
            warnings.warn(
                f"modelboard could not record the layers of run {self.run.id[:8]} from its "
                f"first batch: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    def _write(self, capture: OperationCapture) -> None:
        from modelboard.adapters.torch.network import executed_layers
        from modelboard.canonical import architecture_signature

        network = self.run.network
        if network is None or self.run.finished:
            return
        unknown = dict(network.unknown)
        unknown.pop("layers", None)
        if capture.failed is not None:
            unknown["layers"] = f"recording the forward's operations failed: {capture.failed}"
        layers = executed_layers(self.module, capture)
        self.run.update_network(
            layers=layers,
            signature=architecture_signature(layers),
            input_shape=capture.input_shape,
            output_shape=capture.output_shape,
            unknown=unknown,
        )
        self.done = True

    def _skip(self, reason: str) -> None:
        self.detach()
        _warn_skipped(self.run, reason)

    def detach(self) -> None:
        """Remove the hooks (and leave a capture in progress); safe to call twice."""
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.stop(None)
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()


class _NoCapture:
    """Nothing to detach (an example input was given, or the capture cannot work here)."""

    done = False

    def detach(self) -> None:
        """Nothing to remove."""


def _warn_skipped(run: Run, reason: str) -> None:
    warnings.warn(
        f"modelboard records the layers of run {run.id[:8]} without the operations its forward "
        f"calls as functions (F.relu, torch.flatten...): {reason}; pass example_input= to "
        "track() to record them",
        RuntimeWarning,
        stacklevel=4,
    )


def _cannot_capture(obj: Any) -> str | None:
    """Why the first forward of ``obj`` cannot be recorded, or ``None``."""
    current: Any = obj
    for _ in range(16):
        name = type(current).__name__
        if name == "OptimizedModule" or getattr(current, "_compiled_call_impl", None) is not None:
            return "the module is compiled with torch.compile"
        if name == "DataParallel" and len(getattr(current, "device_ids", None) or []) > 1:
            return "nn.DataParallel runs its replicas in threads of its own"
        if name not in ("DataParallel", "DistributedDataParallel"):
            return None
        current = current.module
    return None


def attach_first_batch(
    obj: torch.nn.Module, run: Run, options: dict[str, Any]
) -> FirstBatchCapture | _NoCapture:
    """Record the layers from the first forward of ``obj`` (wrappers unwrapped), unless
    ``options["example_input"]`` already gave them; see the module docstring."""
    if options.get("example_input") is not None or run.network is None:
        return _NoCapture()
    reason = _cannot_capture(obj)
    if reason is not None:
        if "layers" in run.network.unknown:
            _warn_skipped(run, reason)
            unknown = dict(run.network.unknown)
            unknown["layers"] = f"{unknown['layers']} ({reason})"
            run.update_network(unknown=unknown)
        return _NoCapture()
    return FirstBatchCapture(unwrap_module(obj), run)
