"""Small helpers shared by the PyTorch adapter's modules: detection, unwrapping, plain values."""

from __future__ import annotations

import enum
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["loaded_torch", "is_torch_module", "unwrap_module", "plain_value", "module_device"]

_WRAPPERS = ("DataParallel", "DistributedDataParallel")


def loaded_torch() -> Any | None:
    """The ``torch`` module when the user already imported it, else ``None`` (never imports)."""
    return sys.modules.get("torch")


def is_torch_module(obj: Any) -> bool:
    """True for a ``torch.nn.Module`` instance that is not a Keras model; never imports torch.

    On Keras's torch backend every Keras model is also a ``torch.nn.Module``: those belong to
    the Keras adapter.
    """
    torch = loaded_torch()
    if torch is None or not isinstance(obj, torch.nn.Module):
        return False
    keras = sys.modules.get("keras")
    return keras is None or not isinstance(obj, getattr(keras, "Model", ()))


def unwrap_module(module: torch.nn.Module) -> torch.nn.Module:
    """The real module inside DataParallel, DistributedDataParallel and ``torch.compile``."""
    seen = 0
    while seen < 16:
        seen += 1
        inner = getattr(module, "_orig_mod", None)  # torch.compile's OptimizedModule
        if inner is not None and type(module).__name__ == "OptimizedModule":
            module = inner
            continue
        if type(module).__name__ in _WRAPPERS and hasattr(module, "module"):
            module = module.module
            continue
        break
    return module


def module_device(module: torch.nn.Module) -> torch.device | None:
    """The device of the module's first parameter or buffer, ``None`` when it has neither."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return None


def plain_value(value: Any, depth: int = 0) -> Any:
    """A JSON-friendly copy of a hyperparameter: tuples become lists, small tensors numbers,
    enums their value; anything else its ``repr``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return plain_value(value.value, depth + 1)
    if depth > 4:
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [plain_value(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v, depth + 1) for k, v in value.items()}
    torch = loaded_torch()
    if torch is not None:
        if isinstance(value, torch.Tensor):
            if value.numel() == 1:
                return plain_value(value.detach().cpu().item(), depth + 1)
            if value.numel() <= 64:
                return plain_value(value.detach().cpu().tolist(), depth + 1)
            return f"tensor(shape={list(value.shape)}, dtype={value.dtype})"
        if isinstance(value, (torch.dtype, torch.device)):
            return str(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return plain_value(item(), depth + 1)
    return repr(value)
