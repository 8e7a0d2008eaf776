"""Gradients on demand: the statistics of one batch's gradients, leaving ``.grad`` untouched.

``torch.autograd.grad`` returns the gradients without writing ``.grad``; buffers that the
forward pass changes (BatchNorm running statistics) are restored. The module keeps its mode
(train or eval). The loss is ``loss`` (a callable ``loss(output, y)``), else ``options["loss"]``,
else cross-entropy for integer targets (NLL of the log when the output is already
probabilities, see ``predict.to_probabilities``) and mean squared error otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch._util import module_device, unwrap_module
from modelboard.adapters.torch.gradient_stats import gradient_table, stats_from_table
from modelboard.adapters.torch.network import call_module
from modelboard.adapters.torch.predict import as_input_tensor
from modelboard.records import ParameterGradientStats

if TYPE_CHECKING:
    import torch

__all__ = ["compute_batch_gradients", "default_loss"]


def default_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for class indices (of probabilities when the output already is), else MSE."""
    import torch
    import torch.nn.functional as F

    if not target.is_floating_point() and output.dim() == 2 and output.shape[1] > 1:
        is_probability = bool(((output >= 0) & (output <= 1)).all()) and bool(
            ((output.sum(dim=1) - 1).abs() <= 1e-3).all()
        )
        if is_probability:
            return F.nll_loss(torch.log(output.clamp_min(1e-7)), target)
        return F.cross_entropy(output, target)
    return F.mse_loss(output, target.to(output.dtype).reshape(output.shape))


def _resolve_loss(loss: Any, options: dict[str, Any]) -> Callable[..., Any]:
    import torch.nn.functional as F

    chosen = loss if loss is not None else options.get("loss")
    if chosen is None:
        return default_loss
    if isinstance(chosen, str):
        return getattr(F, chosen)
    return chosen


def compute_batch_gradients(
    obj: torch.nn.Module, x: Any, y: Any, loss: Any, options: dict[str, Any]
) -> list[ParameterGradientStats]:
    """Per-parameter statistics (no update ratio) of the gradients of ``loss(module(x), y)``."""
    import torch

    module = unwrap_module(obj)
    device = module_device(module)
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), None)
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if not named:
        return []
    inputs: Any
    if isinstance(x, (tuple, list)):
        inputs = tuple(as_input_tensor(v, device, dtype) for v in x)
    else:
        inputs = as_input_tensor(x, device, dtype)
    target = as_input_tensor(y, device)
    saved = [(b, b.detach().clone()) for b in module.buffers()]
    try:
        with torch.enable_grad():
            output = call_module(module, inputs)
            if isinstance(output, (tuple, list)):
                output = output[0]
            value = _resolve_loss(loss, options)(output, target)
            grads = torch.autograd.grad(value, [p for _, p in named], allow_unused=True)
    finally:
        with torch.no_grad():
            for buffer, copy in saved:
                buffer.copy_(copy)
    kept = [(n, p, g) for (n, p), g in zip(named, grads, strict=True) if g is not None]
    if not kept:
        return []
    table = gradient_table([g for _, _, g in kept], [p for _, p, _ in kept])
    names = [n for n, _, _ in kept]
    shapes = [list(p.shape) for _, p, _ in kept]
    return stats_from_table(names, shapes, table, [g for _, _, g in kept])
