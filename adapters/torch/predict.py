"""Predictions for evaluation: class probabilities as numpy, and the rule that makes them.

The rule (:func:`to_probabilities`), applied to the whole output of a 2-D ``(N, C)`` model
output with ``C >= 2``:

- rows already in [0, 1] that sum to 1 (within 1e-3) are probabilities and pass unchanged
  (a model that ends in ``nn.Softmax``);
- rows of values <= 0 whose exponentials sum to 1 are log-probabilities (``nn.LogSoftmax``) and
  are exponentiated;
- anything else is logits and goes through softmax.

A single output column ``(N,)`` or ``(N, 1)`` and other shapes pass unchanged (it may be a
regression); ``track(..., output="logits")`` makes the adapter apply sigmoid (one column) or
softmax, ``output="raw"`` turns the rule off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import module_device, unwrap_module

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["to_probabilities", "predict_probabilities", "as_input_tensor", "DEFAULT_BATCH_SIZE"]

DEFAULT_BATCH_SIZE = 256
_TOLERANCE = 1e-3


def to_probabilities(output: torch.Tensor, mode: str = "auto") -> torch.Tensor:
    """Apply the rule of the module docstring; ``mode`` is ``auto``, ``logits`` or ``raw``."""
    import torch

    out = output.detach()
    if not out.is_floating_point():
        out = out.float()
    if mode == "raw":
        return out
    columns = out.shape[1] if out.dim() == 2 else 1
    if out.dim() == 2 and columns >= 2:
        if mode == "logits":
            return torch.softmax(out, dim=1)
        sums = out.sum(dim=1)
        if bool(((out >= 0) & (out <= 1)).all()) and bool(((sums - 1).abs() <= _TOLERANCE).all()):
            return out
        if bool((out <= 0).all()):
            exp = out.exp()
            if bool(((exp.sum(dim=1) - 1).abs() <= _TOLERANCE).all()):
                return exp
        return torch.softmax(out, dim=1)
    if mode == "logits" and out.dim() in (1, 2):
        return torch.sigmoid(out)
    return out


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


def predict_probabilities(obj: torch.nn.Module, x: Any, options: dict[str, Any]) -> np.ndarray:
    """Run the module on ``x`` in eval mode without gradients, in batches of
    ``options["batch_size"]`` (default 256), and return probabilities as numpy (see rule)."""
    import torch

    module = unwrap_module(obj)
    device = module_device(module)
    dtype = _float_dtype(module)
    batch_size = int(options.get("batch_size") or DEFAULT_BATCH_SIZE)
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
    probabilities = to_probabilities(torch.cat(outputs), str(options.get("output") or "auto"))
    return probabilities.cpu().numpy()
