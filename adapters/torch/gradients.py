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
    "GradientRow",
    "gradient_table",
    "gradient_row",
    "table_from_rows",
    "RawTable",
    "read_table",
    "global_norm",
    "append_update_ratios",
    "copies",
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


GradientRow = tuple[Any, Any, Any, Any, Any]
"""The raw statistics of one gradient, 0-d tensors on its device: L2 norm, sum, min, max (in
the gradient's float dtype) and the count of non-zeros (int64)."""


def _reduced(g: torch.Tensor, norm: torch.Tensor) -> GradientRow:
    """Sum, min, max and non-zero count of a (non-empty) tensor, with its given norm."""
    import torch

    low, high = torch.aminmax(g)
    return norm, g.sum(), low, high, torch.count_nonzero(g)


def _stack_on(tensors: Sequence[torch.Tensor], device: torch.device, dtype: torch.dtype) -> Any:
    """``tensors`` (0-d) as one vector of ``dtype`` on ``device``: one stack and one cast when
    they already share the device (casting to a wider float is exact: promoted or cast one by
    one, the values are the same)."""
    import torch

    if all(t.device == device for t in tensors):
        return torch.stack(list(tensors)).to(dtype)
    return torch.stack([t.to(device=device, dtype=dtype) for t in tensors])


def gradient_row(grad: torch.Tensor) -> GradientRow:
    """The raw statistics of one gradient, on its device, without a host sync (what a backward
    hook keeps: four reductions); :func:`table_from_rows` gathers rows into a table."""
    import torch

    g = _values(grad)
    if not g.numel():
        g = g.new_zeros(1)
    return _reduced(g, torch.linalg.vector_norm(g))


class RawTable:
    """A statistics table's device side: a few vectors on one device, read back with one
    transfer by :func:`read_table`, which derives the columns on the host.

    ``parts`` holds, in order: norm, sum, min and max of each tensor (``4 * P``), its count of
    non-zeros (``P``), its weight's norm (``P``), and optionally the loss-scale inverse of each
    row (``row_scales``, ``P``), the update norms (``updates``, ``P``) and the inverse of a
    scale on the whole table (``table_scale``, 1)."""

    __slots__ = ("numels", "parts", "device", "dtype")

    def __init__(self, numels: list[int], parts: dict[str, Any], device: Any, dtype: Any) -> None:
        self.numels = numels
        self.parts = parts
        self.device = device
        self.dtype = dtype


def table_from_rows(
    rows: Sequence[GradientRow],
    numels: Sequence[int],
    weights: Sequence[torch.Tensor],
    inv_scale: torch.Tensor | None = None,
    row_scales: Sequence[torch.Tensor | None] | None = None,
) -> RawTable:
    """The table of :func:`gradient_row` rows, on their device (no host sync).

    ``row_scales`` (one per row, ``None`` for none) divides a loss scale out of the norm, sum,
    min and max of each row; ``inv_scale`` out of the l2 norm, mean, std and max of the whole
    table. A few stacks over all parameters, no operations per parameter."""
    import torch

    device = rows[0][0].device
    acc = _accumulator(device)
    parts: dict[str, Any] = {
        "raw": _stack_on([t for row in rows for t in row[:4]], device, acc),
        "nonzero": _stack_on([row[4] for row in rows], device, acc),
    }
    with torch.no_grad():  # the weights' norms, recorded by no graph
        floats = [w if w.is_floating_point() else w.float() for w in weights]
        parts["weights"] = _stack_on(_norms(floats), device, acc)
    if row_scales is not None and any(s is not None for s in row_scales):
        one = torch.ones((), dtype=acc, device=device)
        parts["row_scales"] = _stack_on([one if s is None else s for s in row_scales], device, acc)
    if inv_scale is not None:
        parts["table_scale"] = inv_scale.to(device=device, dtype=acc).reshape(1)
    return RawTable([int(k) for k in numels], parts, device, acc)


def global_norm(grads: Sequence[torch.Tensor], inv_scale: torch.Tensor | None = None) -> Any:
    """The L2 norm of all of ``grads`` together, as a 0-d tensor on the first one's device."""
    import torch

    values = [_values(g) for g in grads]
    device = values[0].device
    acc = _accumulator(device)
    total = torch.linalg.vector_norm(_stack_on(_norms(values), device, acc))
    if inv_scale is not None:
        total = total * inv_scale.to(device=device, dtype=acc)
    return total


def gradient_table(
    grads: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    inv_scale: torch.Tensor | None = None,
) -> RawTable:
    """The table of ``grads`` (read it with :func:`read_table`): the first seven ``COLUMNS``.

    Each statistic is one cheap pass (the CPU steps of small models feel every pass): fused
    norms, a sum, ``aminmax`` and a count of non-zeros per tensor. The std comes from the sum of
    squares and the mean in double precision, ``sqrt(max(|g|^2/n - mean^2, 0))``. The
    non-finite column is NaN here; :func:`stats_from_table` counts NaN/Inf only for tensors whose
    norm is not finite (a finite norm means there are none).
    """
    values = [_values(g) for g in grads]
    values = [g if g.numel() else g.new_zeros(1) for g in values]
    rows = [_reduced(g, norm) for g, norm in zip(values, _norms(values), strict=True)]
    return table_from_rows(rows, [int(g.numel()) for g in grads], weights, inv_scale)


def copies(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Detached copies of ``tensors`` (the weights before a step), in one fused call where
    torch offers it."""
    import torch

    with torch.no_grad():  # copies that no graph records
        foreach_clone = getattr(torch, "_foreach_clone", None)
        if foreach_clone is not None:
            try:
                return list(foreach_clone(list(tensors)))
            except (RuntimeError, TypeError):
                pass
        return [t.clone() for t in tensors]


def append_update_ratios(
    table: RawTable, before: Sequence[torch.Tensor], after: Sequence[torch.Tensor]
) -> RawTable:
    """``table`` with an eighth column: |after - before| / |before| per parameter (the norms
    of the updates stay on the device until :func:`read_table`)."""
    import torch

    current = list(after)
    with torch.no_grad():  # the updates, recorded by no graph
        foreach_sub = getattr(torch, "_foreach_sub", None)
        try:
            deltas = list(foreach_sub(current, list(before))) if foreach_sub else None
        except (RuntimeError, TypeError):
            deltas = None
        if deltas is None:
            deltas = [a - b for a, b in zip(current, before, strict=True)]
        deltas = [d if d.is_floating_point() else d.float() for d in deltas]
        updates = _stack_on(_norms(deltas), table.device, table.dtype)
    parts = dict(table.parts)
    parts["updates"] = updates
    return RawTable(table.numels, parts, table.device, table.dtype)


def _maximum(a: float, b: float) -> float:
    """``torch.maximum`` of two floats: NaN when either is; 0.0, never -0.0, for zeros."""
    if a != a or b != b:
        return math.nan
    return (a if a > b else b) + 0.0


def _divide(a: float, b: float) -> float:
    """IEEE division (``x / 0`` is inf or NaN, as on the device)."""
    if b == 0:
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1, b)
    return a / b


def read_table(
    table: RawTable, extra: torch.Tensor | None = None
) -> tuple[list[list[float]], float | None]:
    """The table's rows of ``COLUMNS`` values (seven, or eight with update ratios), read back
    in one transfer together with ``extra`` (a 0-d tensor, such as the applied norm), and
    ``extra``'s value.

    The columns are derived on the host in double precision (single on MPS, where the device
    has no double; the host's double is then more exact), with the device's own arithmetic:
    mean ``sum / n``, std ``sqrt(max(norm^2 / n - mean^2, 0))``, max ``max(max, -min)``, zero
    fraction ``(n - non-zeros) / n`` (0 for an empty tensor); NaN propagates as on the device.
    """
    import torch

    parts = list(table.parts.values())
    if extra is not None:
        parts.append(extra.to(device=table.device, dtype=table.dtype).reshape(1))
    flat: list[float] = torch.cat(parts).tolist()
    numels = table.numels
    count = len(numels)
    names = list(table.parts)
    offsets: dict[str, int] = {}
    at = 0
    for name in names:
        offsets[name] = at
        at += 1 if name == "table_scale" else (4 * count if name == "raw" else count)
    scales_at = offsets.get("row_scales")
    updates_at = offsets.get("updates")
    table_scale = flat[offsets["table_scale"]] if "table_scale" in offsets else None
    nonzero_at, weights_at = offsets["nonzero"], offsets["weights"]
    rows: list[list[float]] = []
    for i, numel in enumerate(numels):
        norm, total, low, high = flat[4 * i : 4 * i + 4]
        if scales_at is not None:
            scale = flat[scales_at + i]
            norm, total, low, high = norm * scale, total * scale, low * scale, high * scale
        n = float(max(numel, 1))
        mean = total / n
        variance = norm * norm / n - mean * mean
        std = math.sqrt(variance) if variance >= 0 else (variance if variance != variance else 0.0)
        max_abs = _maximum(high, -low)
        zeros = 0.0 if numel == 0 else (n - flat[nonzero_at + i]) / n
        row = [norm, mean, std, max_abs, zeros, math.nan, flat[weights_at + i]]
        if table_scale is not None:
            row[0], row[1], row[2], row[3] = (
                norm * table_scale,
                mean * table_scale,
                std * table_scale,
                max_abs * table_scale,
            )
        if updates_at is not None:
            row.append(_divide(flat[updates_at + i], row[6]))
        rows.append(row)
    return rows, (flat[-1] if extra is not None else None)


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
    table: RawTable,
    grads: Sequence[torch.Tensor],
) -> list[ParameterGradientStats]:
    """Read the table back with one ``tolist()`` and make one record per parameter.

    Tensors with a non-finite norm get their NaN/Inf counted from ``grads`` (a second, small
    transfer that only happens when something already went wrong).
    """
    rows, _ = read_table(table)
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
