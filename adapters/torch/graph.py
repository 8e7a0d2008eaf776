"""The operations one forward pass of a torch module ran, in the order it ran them.

:class:`OperationCapture` watches one forward: forward hooks on every submodule see which
modules run (a module reached twice is listed once, at its first call), and a
``TorchFunctionMode`` sees every torch function and tensor method the Python code calls.

Which function calls become layers (the rule):

* the call is made by the forward of the root module or of a container (a module with
  children, ``MultiheadAttention`` excepted), not inside a leaf module: ``nn.Conv2d`` calls
  ``F.conv2d`` and that call is part of the ``Conv2d`` layer;
* the function is in :func:`modelboard.canonical.canonical_function`'s table: activations
  (``F.relu``, ``torch.tanh``, ``x.softmax``...), pooling, dropout, functional normalisation,
  ``torch.flatten``/``x.flatten`` (only when it keeps the first, batch, dimension and flattens
  all the others), ``torch.cat``, and ``add`` (``a + b``, ``a += b``, ``torch.add``) of two
  tensors of one shape that are not parameters (a residual; Keras twins use ``Add``);
* ``x.view(...)`` and ``x.reshape(...)`` count as ``flatten`` when they turn a tensor of three
  or more dimensions into ``(batch, -1)``; other views are shape bookkeeping and are not listed,
  nor are arithmetic with scalars, indexing, ``size()`` and the like. Functional ``F.linear``
  and ``F.conv2d`` on a container's own parameters are not listed either (those parameters
  are counted in the container's ``own_params``).

Calls made by functions themselves are not seen (torch disables the mode inside the handler):
``F.relu`` is one operation, not ``F.relu`` plus ``torch.relu``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelboard.canonical import as_int_list, canonical_activation, canonical_function

if TYPE_CHECKING:
    import torch

__all__ = [
    "ExecutedOp",
    "OperationCapture",
    "is_container",
    "batch_size",
    "shape_of",
    "LEAVES_WITH_CHILDREN",
]

LEAVES_WITH_CHILDREN = ("MultiheadAttention",)
"""Modules with children that are one layer (their own submodules are folded into them)."""

_RESHAPES = ("view", "reshape")
_ADDS = ("add", "add_", "__add__", "__iadd__", "__radd__")


@dataclass
class ExecutedOp:
    """One module (``kind="module"``) or function call (``kind="function"``) that ran.

    ``caller`` is the path of the module whose forward made a function call (root: ``""``).
    """

    kind: str
    path: str
    module: Any = None
    name: str = ""
    source: str | None = None
    canonical_type: str = ""
    canonical_config: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    output_shape: Any = None
    caller: str = ""


def is_container(module: torch.nn.Module) -> bool:
    """A module with children is a container, except the ``LEAVES_WITH_CHILDREN`` layers."""
    has_children = next(module.children(), None) is not None
    return has_children and type(module).__name__ not in LEAVES_WITH_CHILDREN


def batch_size(example: Any) -> int | None:
    """The first dimension of the first tensor of an input (tensor, tuple, list or dict)."""
    import torch

    if isinstance(example, torch.Tensor):
        return int(example.shape[0]) if example.dim() else None
    if isinstance(example, (tuple, list)) and example:
        return batch_size(example[0])
    if isinstance(example, dict) and example:
        return batch_size(next(iter(example.values())))
    return None


def shape_of(value: Any, batch: int | None) -> Any:
    """Shapes as lists, nested like the value; a first dimension equal to ``batch`` is None."""
    import torch

    if isinstance(value, torch.Tensor):
        shape: list[Any] = list(value.shape)
        if shape and batch is not None and shape[0] == batch:
            shape[0] = None
        return shape
    if isinstance(value, (tuple, list)):
        return [shape_of(v, batch) for v in value]
    if isinstance(value, dict):
        return {str(k): shape_of(v, batch) for k, v in value.items()}
    return None


def _arg(args: Any, kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    if len(args) > index:
        return args[index]
    return default


def _function_source(func: Any, name: str) -> str | None:
    import torch

    if getattr(torch.nn.functional, name, None) is func:
        return "torch.nn.functional"
    if getattr(torch, name, None) is func:
        return "torch"
    if getattr(torch.Tensor, name, None) is func:
        return "torch.Tensor"
    return getattr(func, "__module__", None)


def _pool_config(kind: str, args: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    dims = int(kind[-2]) if kind[-2:-1].isdigit() else 2
    kernel = _arg(args, kwargs, 1, "kernel_size")
    stride = _arg(args, kwargs, 2, "stride")
    if stride is None or (isinstance(stride, (list, tuple)) and not stride):
        stride = kernel
    config: dict[str, Any] = {
        "pool_size": as_int_list(kernel, dims),
        "strides": as_int_list(stride, dims),
    }
    padding = as_int_list(_arg(args, kwargs, 3, "padding", 0), dims)
    if not (isinstance(padding, list) and all(p == 0 for p in padding)):
        config["padding"] = padding
    return config


def _flattens(name: str, args: Any, kwargs: dict[str, Any], result: Any) -> bool:
    """A flatten/view/reshape that keeps the batch dimension and flattens all the others."""
    import torch

    source = args[0] if args else None
    if not isinstance(source, torch.Tensor) or not isinstance(result, torch.Tensor):
        return False
    if result.dim() != 2 or source.dim() < 2 or result.shape[0] != source.shape[0]:
        return False
    if name in _RESHAPES:
        return source.dim() > 2
    start = _arg(args, kwargs, 1, "start_dim", 0)
    end = _arg(args, kwargs, 2, "end_dim", -1)
    if not isinstance(start, int) or not isinstance(end, int):
        return False
    return start % source.dim() == 1 and end % source.dim() == source.dim() - 1


def _is_residual_add(args: Any, kwargs: dict[str, Any]) -> bool:
    import torch

    if len(args) < 2 or "alpha" in kwargs:
        return False
    a, b = args[0], args[1]
    tensors = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    if not tensors or isinstance(a, torch.nn.Parameter) or isinstance(b, torch.nn.Parameter):
        return False
    return bool(a.shape == b.shape)


def describe_call(
    func: Any, args: Any, kwargs: dict[str, Any], result: Any
) -> tuple[str, str, dict[str, Any], dict[str, Any]] | None:
    """``(name, canonical_type, canonical_config, config)`` of a call that is a layer (see the
    module docstring), else ``None``."""
    import torch

    name = getattr(func, "__name__", None)
    if not isinstance(name, str):
        return None
    if name in _RESHAPES or name in ("flatten", "flatten_"):
        if not _flattens(name, args, kwargs, result):
            return None
        return name, "flatten", {}, {}
    kind = canonical_function(name)
    if kind is None:
        return None
    first = args[0] if args else None
    if kind == "activation":
        config: dict[str, Any] = {}
        if name.strip("_") in ("softmax", "log_softmax"):
            config["dim"] = _arg(args, kwargs, 1, "dim")
        if name.strip("_") == "leaky_relu":
            config["negative_slope"] = _arg(args, kwargs, 1, "negative_slope", 0.01)
        return name, kind, {"activation": canonical_activation(name.strip("_"))}, config
    if "pool" in kind and not kind.startswith("adaptive"):
        return name, kind, _pool_config(kind, args, kwargs), {}
    if kind.startswith("adaptive"):
        size = _arg(args, kwargs, 1, "output_size")
        return name, kind, {"output_size": list(size) if isinstance(size, tuple) else size}, {}
    if kind == "dropout":
        rate = float(_arg(args, kwargs, 1, "p", 0.5))
        return name, kind, {"rate": rate}, {"training": bool(_arg(args, kwargs, 2, "training"))}
    if kind in ("batchnorm", "groupnorm") and isinstance(first, torch.Tensor) and first.dim() > 1:
        out: dict[str, Any] = {"features": int(first.shape[1])}
        if kind == "groupnorm":
            out["groups"] = _arg(args, kwargs, 1, "num_groups")
        return name, kind, out, {}
    if kind == "layernorm":
        shape = _arg(args, kwargs, 1, "normalized_shape")
        return name, kind, {"features": list(shape) if shape is not None else None}, {}
    if kind == "add":
        return (name, kind, {}, {}) if name in _ADDS and _is_residual_add(args, kwargs) else None
    if kind == "concatenate":
        return name, kind, {}, {"dim": _arg(args, kwargs, 1, "dim", 0)}
    return None


class OperationCapture:
    """Record what one forward of ``root`` runs: :meth:`start` before it, :meth:`stop` after.

    ``ops`` holds the modules (at their first call) and the function calls that are layers,
    in executed order; ``failed`` says why recording stopped early (the forward itself is never
    disturbed). Only the thread that called :meth:`start` is watched.
    """

    def __init__(self, root: torch.nn.Module) -> None:
        self.root = root
        self.paths: dict[int, str] = {}
        for path, sub in root.named_modules():
            self.paths.setdefault(id(sub), path)
        self._taken = set(self.paths.values())
        self.ops: list[ExecutedOp] = []
        self.failed: str | None = None
        self.input_shape: Any = None
        self.output_shape: Any = None
        self._batch: int | None = None
        self._seen: set[int] = set()
        self._first: dict[int, ExecutedOp] = {}
        self._callers: list[str] = [""]
        self._inside_leaf = 0
        self._counts: dict[tuple[str, str], int] = {}
        self._handles: list[Any] = []
        self._mode: Any = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, inputs: Any) -> None:
        """Hook every submodule and enter the function mode; ``inputs`` are forward's inputs."""
        from torch.overrides import TorchFunctionMode

        self._batch = batch_size(inputs)
        self.input_shape = shape_of(inputs, self._batch)
        for sub in self.root.modules():
            if sub is self.root:
                continue
            self._handles.append(sub.register_forward_pre_hook(self._enter_module))
            self._handles.append(sub.register_forward_hook(self._leave_module, always_call=True))
        capture = self

        class _Mode(TorchFunctionMode):
            def __torch_function__(
                self, func: Any, types: Any, args: Any = (), kwargs: Any = None
            ) -> Any:
                kwargs = kwargs or {}
                result = func(*args, **kwargs)
                capture._on_call(func, args, kwargs, result)
                return result

        self._mode = _Mode()
        self._mode.__enter__()

    def stop(self, output: Any) -> None:
        """Leave the function mode and remove every hook (safe to call twice)."""
        mode, self._mode = self._mode, None
        if mode is not None:
            mode.__exit__(None, None, None)
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()
        self.output_shape = shape_of(output, self._batch)

    # -- hooks --------------------------------------------------------------------------------

    def _enter_module(self, module: Any, _args: Any) -> None:
        if self._inside_leaf == 0 and id(module) not in self._seen:
            self._seen.add(id(module))
            op = ExecutedOp("module", self.paths.get(id(module), ""), module=module)
            self.ops.append(op)
            self._first[id(module)] = op
        if self._inside_leaf or not is_container(module):
            self._inside_leaf += 1
        else:
            self._callers.append(self.paths.get(id(module), ""))

    def _leave_module(self, module: Any, _args: Any, output: Any) -> None:
        if self._inside_leaf:
            self._inside_leaf -= 1
        elif len(self._callers) > 1:
            self._callers.pop()
        op = self._first.pop(id(module), None)
        if op is not None:
            op.output_shape = shape_of(output, self._batch)

    def _on_call(self, func: Any, args: Any, kwargs: dict[str, Any], result: Any) -> None:
        if self._inside_leaf or self.failed is not None:
            return
        try:
            described = describe_call(func, args, kwargs, result)
            if described is None:
                return
            name, kind, canonical_config, config = described
            caller = self._callers[-1]
            self.ops.append(
                ExecutedOp(
                    "function",
                    self._function_path(caller, name.strip("_") or name),
                    name=name,
                    source=_function_source(func, name),
                    canonical_type=kind,
                    canonical_config=canonical_config,
                    config=config,
                    output_shape=shape_of(result, self._batch),
                    caller=caller,
                )
            )
        except Exception as exc:  # a statistic never breaks the user's forward
            self.failed = f"{type(exc).__name__}: {exc}"

    def _function_path(self, caller: str, name: str) -> str:
        prefix = f"{caller}." if caller else ""
        count = self._counts.get((caller, name), 0)
        while True:
            count += 1
            path = f"{prefix}{name}_{count}"
            if path not in self._taken:
                break
        self._counts[(caller, name)] = count
        self._taken.add(path)
        return path
