"""Predictions of a torch module for evaluation: its raw outputs as numpy, with what the
module says about them (``track(..., output="logits" | "probabilities")``; a final
``Softmax``, ``LogSoftmax`` or ``Sigmoid`` module). The core turns them into probabilities
(``modelboard.probabilities``). The prediction batch size is the ``predict_batch_size`` option
(``batch_size`` is the training batch size and is never used here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import module_device, unwrap_module
from modelboard.plugins.types import ModelOutputs

if TYPE_CHECKING:
    import torch

__all__ = ["last_activation", "predict_probabilities", "as_input_tensor", "DEFAULT_BATCH_SIZE"]

DEFAULT_BATCH_SIZE = 256


_ACTIVATIONS = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Sigmoid": "sigmoid"}


def last_activation(module: torch.nn.Module) -> str | None:
    """``softmax``, ``log_softmax`` or ``sigmoid`` when the module is an ``nn.Sequential`` (or
    nests them) that ends in one of them; ``None`` otherwise. Only a Sequential runs its modules
    in the order they were registered: a custom ``forward`` may never call a registered
    ``Softmax``, so there the core reads the outputs themselves."""
    from torch import nn

    current: nn.Module = module
    while isinstance(current, nn.Sequential) and len(current) > 0:
        current = current[-1]
    if current is module:
        return None
    return _ACTIVATIONS.get(type(current).__name__)


def as_input_tensor(value: Any, device: Any = None, dtype: Any = None) -> torch.Tensor:
    """A numpy array, list or tensor as a tensor on ``device``; floats take ``dtype``."""
    import numpy as np
    import torch

    tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    if tensor.is_floating_point() and dtype is not None and tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    if device is not None and tensor.device != device:
        tensor = tensor.to(device)
    return tensor


def _float_dtype(module: torch.nn.Module) -> Any:
    for param in module.parameters():
        if param.is_floating_point():
            return param.dtype
    return None


def _batches(x: Any, batch_size: int) -> Any:
    import torch

    if isinstance(x, torch.utils.data.DataLoader):
        for batch in x:
            yield batch[0] if isinstance(batch, (tuple, list)) else batch
        return
    n = len(x)
    for start in range(0, n, batch_size):
        yield x[start : start + batch_size]


_FROM_LOGITS = {"logits": True, "probabilities": False, "raw": False}


def predict_probabilities(obj: torch.nn.Module, x: Any, options: dict[str, Any]) -> ModelOutputs:
    """Run the module on ``x`` in eval mode without gradients, in batches of
    ``options["predict_batch_size"]`` (default 256); the outputs as numpy with what is known of
    them."""
    import torch

    module = unwrap_module(obj)
    device = module_device(module)
    dtype = _float_dtype(module)
    batch_size = int(options.get("predict_batch_size") or DEFAULT_BATCH_SIZE)
    modes = {m: m.training for m in module.modules()}
    outputs = []
    try:
        module.eval()
        with torch.inference_mode():
            for batch in _batches(x, batch_size):
                out = module(as_input_tensor(batch, device, dtype))
                if isinstance(out, (tuple, list)):
                    out = out[0]
                outputs.append(out)
    finally:
        for sub, mode in modes.items():
            sub.training = mode
    if not outputs:
        raise ValueError("cannot predict on empty input")
    output = torch.cat(outputs).detach()
    if not output.is_floating_point():
        output = output.float()
    return ModelOutputs(
        output.cpu().numpy(),
        from_logits=_FROM_LOGITS.get(str(options.get("output"))),
        last_activation=last_activation(module),
    )
