"""Gradients in PyTorch: per-parameter statistics computed on the device and read back in one
transfer, and gradients on demand for one batch.

Per-parameter gradient statistics, computed on the device and read back in one transfer.

Columns: L2 norm, mean, std (population), max |g|, fraction of exact zeros, count of NaN/Inf,
the weight's L2 norm, and |update| / |weight| when an update is given. Everything stays on the
device until one ``tolist()`` per capture (NaN/Inf are counted in a second transfer only for
tensors whose norm is already non-finite). Sparse gradients are described by their stored
values. Under a GradScaler whose scale is still in the gradients (fused optimizers),
``inv_scale`` divides the scale out, so the figures are always of unscaled gradients.

Gradients on demand: the statistics of one batch's gradients, leaving ``.grad`` untouched.

``torch.autograd.grad`` returns the gradients without writing ``.grad``; buffers that the
forward pass changes (BatchNorm running statistics) are restored. The module keeps its mode
(train or eval). The loss is ``loss`` (a callable ``loss(output, y)``), else ``options["loss"]``,
else cross-entropy for integer targets (NLL of the log when the output is already
probabilities, see ``predict.to_probabilities``) and mean squared error otherwise."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import module_device, unwrap_module
from modelboard.adapters.torch.network import call_module
from modelboard.adapters.torch.predict import as_input_tensor
from modelboard.gradients import STAT_COLUMNS, stats_from_rows
from modelboard.records import ParameterGradientStats

if TYPE_CHECKING:
    import torch

__all__ = [
    "COLUMNS",
    "gradient_table",
    "gradient_row",
    "table_from_rows",
    "global_norm",
    "append_update_ratios",
    "stats_from_table",
    "stats_from_rows_of",
    "batch_gradients",
    "default_loss",
]


COLUMNS = STAT_COLUMNS  # the table's columns, in modelboard.gradients' order
_SCALED_COLUMNS = 4  # l2_norm, mean, std, max_abs scale with the loss scale


def _values(grad: torch.Tensor) -> torch.Tensor:
    import torch

    g = grad.detach()
    if g.is_sparse:
        g = g.coalesce().values()
    if g.dtype not in (torch.float32, torch.float64):
        g = g.float()
    return g


def _accumulator(device: torch.device) -> torch.dtype:
    import torch

    return torch.float32 if device.type == "mps" else torch.float64


def _norms(tensors: list[torch.Tensor], order: float = 2.0) -> list[torch.Tensor]:
    """Norms of many tensors in one fused call where torch offers it."""
    import torch

    foreach_norm = getattr(torch, "_foreach_norm", None)
    if foreach_norm is not None:
        try:
            return list(foreach_norm(tensors, order))
        except (RuntimeError, TypeError):
            pass
    return [torch.linalg.vector_norm(t, order) for t in tensors]


def _raw_columns(values: list[torch.Tensor], norms: list[torch.Tensor]) -> torch.Tensor:
    """``(P, 5)``: norm, sum, min, max and non-zero count of each (non-empty) tensor."""
    import torch

    device = values[0].device
    acc = _accumulator(device)
    rows = []
    for g, norm in zip(values, norms, strict=True):
        low, high = torch.aminmax(g)
        parts = [norm, g.sum(), low, high, torch.count_nonzero(g)]
        rows.append(torch.stack([t.to(device=device, dtype=acc) for t in parts]))
    return torch.stack(rows)


def gradient_row(grad: torch.Tensor) -> torch.Tensor:
    """The raw statistics of one gradient, on its device, without a host sync (what a backward
    hook keeps); :func:`table_from_rows` turns rows into the table."""
    import torch

    g = _values(grad)
    if not g.numel():
        g = g.new_zeros(1)
    return _raw_columns([g], [torch.linalg.vector_norm(g)])[0]


def table_from_rows(
    rows: Sequence[torch.Tensor],
    numels: Sequence[int],
    weights: Sequence[torch.Tensor],
    inv_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """The ``(P, 7)`` table (the first seven ``COLUMNS``) from :func:`gradient_row` rows."""
    import torch

    raw = torch.stack(list(rows)) if not isinstance(rows, torch.Tensor) else rows
    device, acc = raw.device, raw.dtype
    n = torch.tensor([max(int(k), 1) for k in numels], dtype=acc, device=device)
    norm = raw[:, 0]
    mean = raw[:, 1] / n
    std = (norm * norm / n - mean * mean).clamp_min(0).sqrt()
    max_abs = torch.maximum(raw[:, 3], -raw[:, 2])
    zeros = (n - raw[:, 4]) / n
    empty = torch.tensor([int(k) == 0 for k in numels], device=device)
    zeros = torch.where(empty, torch.zeros_like(zeros), zeros)
    nonfinite = torch.full_like(norm, float("nan"))
    floats = [w.detach() if w.is_floating_point() else w.detach().float() for w in weights]
    weight_norms = torch.stack([t.to(device=device, dtype=acc) for t in _norms(floats)])
    table = torch.stack([norm, mean, std, max_abs, zeros, nonfinite, weight_norms], 1)
    if inv_scale is not None:
        table[:, :_SCALED_COLUMNS] *= inv_scale.to(device=device, dtype=acc)
    return table


def global_norm(grads: Sequence[torch.Tensor], inv_scale: torch.Tensor | None = None) -> Any:
    """The L2 norm of all of ``grads`` together, as a 0-d tensor on the first one's device."""
    import torch

    values = [_values(g) for g in grads]
    device = values[0].device
    acc = _accumulator(device)
    norms = torch.stack([t.to(device=device, dtype=acc) for t in _norms(values)])
    total = torch.linalg.vector_norm(norms)
    if inv_scale is not None:
        total = total * inv_scale.to(device=device, dtype=acc)
    return total


def gradient_table(
    grads: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    inv_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """A ``(P, 7)`` tensor on the first gradient's device: the first seven ``COLUMNS``.

    Each statistic is one cheap pass (the CPU steps of small models feel every pass): fused
    norms, a sum, ``aminmax`` and a count of non-zeros per tensor. The std comes from the sum of
    squares and the mean in double precision, ``sqrt(max(|g|^2/n - mean^2, 0))``. The
    non-finite column is NaN here; :func:`stats_from_table` counts NaN/Inf only for tensors whose
    norm is not finite (a finite norm means there are none).
    """
    values = [_values(g) for g in grads]
    values = [g if g.numel() else g.new_zeros(1) for g in values]
    raw = _raw_columns(values, _norms(values))
    return table_from_rows(raw, [int(g.numel()) for g in grads], weights, inv_scale)


def append_update_ratios(
    table: torch.Tensor, before: Sequence[torch.Tensor], after: Sequence[torch.Tensor]
) -> torch.Tensor:
    """``table`` with an eighth column: |after - before| / |before| per parameter (on device)."""
    import torch

    device = table.device
    current = [a.detach() for a in after]
    foreach_sub = getattr(torch, "_foreach_sub", None)
    try:
        deltas = list(foreach_sub(current, list(before))) if foreach_sub else None
    except (RuntimeError, TypeError):
        deltas = None
    if deltas is None:
        deltas = [a - b for a, b in zip(current, before, strict=True)]
    deltas = [d if d.is_floating_point() else d.float() for d in deltas]
    updates = torch.stack([u.to(device) for u in _norms(deltas)]).to(table.dtype)
    ratio = updates / table[:, 6]
    return torch.cat([table, ratio.unsqueeze(1)], dim=1)


def _nonfinite_counts(grads: Sequence[torch.Tensor], rows: list[list[Any]]) -> dict[int, int]:
    """NaN/Inf counts of the tensors whose norm is not finite (one more transfer, rare)."""
    import torch

    suspects = [i for i, row in enumerate(rows) if not math.isfinite(row[0])]
    if not suspects:
        return {}
    counts = [
        torch.count_nonzero(~torch.isfinite(_values(grads[i]))).to(grads[suspects[0]].device)
        for i in suspects
    ]
    return dict(zip(suspects, torch.stack(counts).tolist(), strict=True))


def stats_from_table(
    names: Sequence[str],
    shapes: Sequence[Sequence[int]],
    table: torch.Tensor,
    grads: Sequence[torch.Tensor],
) -> list[ParameterGradientStats]:
    """Read the table back with one ``tolist()`` and make one record per parameter.

    Tensors with a non-finite norm get their NaN/Inf counted from ``grads`` (a second, small
    transfer that only happens when something already went wrong).
    """
    rows: list[list[Any]] = table.tolist()
    return stats_from_rows(names, shapes, rows, _nonfinite_counts(grads, rows))


def stats_from_rows_of(
    names: Sequence[str],
    shapes: Sequence[Sequence[int]],
    rows: list[list[Any]],
    grads: Sequence[torch.Tensor],
) -> list[ParameterGradientStats]:
    """:func:`stats_from_table` for a table already read back (``rows``)."""
    return stats_from_rows(names, shapes, rows, _nonfinite_counts(grads, rows))


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


def batch_gradients(
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
