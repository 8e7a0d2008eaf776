"""The gradient statistics a capture gathers with a few stacks over all parameters (and derives
on the host) equal a plain per-parameter computation, on a model with parameters of every
shape (0-d, empty, matrices, a float64 one), a parameter that gets no gradient, a zero
gradient, NaN and Inf, under a loss scale and with a gradient no backward hook saw."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import modelboard as mb
from modelboard.adapters.torch.gradients import (
    append_update_ratios,
    copies,
    global_norm,
    gradient_row,
    gradient_table,
    read_table,
    table_from_rows,
)

pytestmark = pytest.mark.torch


class Mixed(torch.nn.Module):
    """Parameters of mixed shapes and dtypes; ``unused`` never gets a gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 3)
        self.scale = torch.nn.Parameter(torch.tensor(1.5))  # 0-d
        self.empty = torch.nn.Parameter(torch.zeros(0))  # no elements
        self.wide = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
        self.dead = torch.nn.Parameter(torch.randn(3))  # multiplied by zero: zero gradient
        self.unused = torch.nn.Parameter(torch.randn(2))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # not float, no grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x).mean(dim=(2, 3)) * self.scale + self.empty.sum()
        out = h.double() @ self.wide.T
        return out.float() + (self.dead * 0.0).sum()


def _plain(grad: torch.Tensor, weight: torch.Tensor) -> list[float]:
    """The seven columns of one parameter, one statistic at a time, in float64."""
    g = grad.detach().double().reshape(-1)
    n = g.numel()
    if n == 0:
        return [0.0, 0.0, 0.0, 0.0, 0.0, math.nan, weight.detach().double().norm().item()]
    return [
        g.norm().item(),
        g.mean().item(),
        g.std(correction=0).item(),
        g.abs().max().item(),
        (g == 0).double().mean().item(),
        math.nan,
        weight.detach().double().norm().item(),
    ]


def _close(got: float, want: float, scale: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    if math.isinf(want):
        return got == want
    return abs(got - want) <= 1e-6 * max(abs(want), scale, 1e-30)


def _assert_rows(rows: list[list[float]], want: list[list[float]]) -> None:
    assert len(rows) == len(want)
    for got_row, want_row in zip(rows, want, strict=True):
        assert len(got_row) == len(want_row)
        norm = want_row[0] if math.isfinite(want_row[0]) else 1.0
        for got, expected in zip(got_row, want_row, strict=True):
            assert _close(got, expected, norm), (got_row, want_row)


def test_fused_rows_equal_plain_per_parameter_statistics() -> None:
    torch.manual_seed(0)
    model = Mixed()
    model(torch.randn(5, 1, 6, 6)).pow(2).sum().backward()
    assert model.unused.grad is None and model.dead.grad is not None
    params = [p for p in model.parameters() if p.grad is not None]
    grads = [p.grad for p in params if p.grad is not None]
    want = [_plain(g, w) for g, w in zip(grads, params, strict=True)]
    # as a capture does: rows in the backward hooks, the table and copies before the step
    rows = [gradient_row(g) for g in grads]
    table = table_from_rows(rows, [p.numel() for p in params], params)
    applied = global_norm(grads)
    before = copies(params)
    with torch.no_grad():  # the step
        for p in params:
            p.add_(torch.randn_like(p) * 1e-2)
    got, applied_value = read_table(append_update_ratios(table, before, params), applied)
    for row, p, b in zip(want, params, before, strict=True):
        update = (p.detach().double() - b.double()).norm().item()
        row.append(update / row[6] if row[6] else math.nan)
    _assert_rows(got, want)
    ids = [id(p) for p in params]
    dead, empty = ids.index(id(model.dead)), ids.index(id(model.empty))
    assert got[dead][0] == 0.0 and got[dead][3] == 0.0 and got[dead][4] == 1.0
    assert got[empty][:5] == [0.0, 0.0, 0.0, 0.0, 0.0]
    total = math.sqrt(sum(row[0] ** 2 for row in want))
    assert applied_value is not None and abs(applied_value - total) <= 1e-6 * total


def test_loss_scales_nan_and_inf_as_per_parameter() -> None:
    grads = [
        torch.tensor([[0.0, 3.0], [4.0, 0.0]]) * 1024,
        torch.tensor([float("nan"), 1.0, -2.0]) * 1024,
        torch.tensor([float("inf"), -1.0]),
        torch.zeros(4, dtype=torch.float64),
    ]
    weights = [torch.ones(2, 2), torch.ones(3), torch.ones(2), torch.zeros(4, dtype=torch.float64)]
    inv = torch.tensor(1 / 1024, dtype=torch.float64)
    scales = [inv, inv, None, None]  # the last two were read at the step, already unscaled
    rows = [gradient_row(g) for g in grads]
    got, _ = read_table(
        table_from_rows(rows, [g.numel() for g in grads], weights, row_scales=scales)
    )
    unscaled = [g * (1 / 1024) if s is not None else g for g, s in zip(grads, scales, strict=True)]
    want = [_plain(g, w) for g, w in zip(unscaled, weights, strict=True)]
    want[1][:4] = [math.nan, math.nan, math.nan, math.nan]  # a NaN spreads to every statistic
    want[2][1:4] = [math.inf, math.nan, math.inf]  # mean inf, std inf - inf, max inf
    _assert_rows(got, want)
    # the on-demand table: one scale over the whole table
    got, _ = read_table(gradient_table(grads[:1], weights[:1], inv))
    _assert_rows(got, [_plain(unscaled[0], weights[0])])


def test_a_tracked_step_records_the_plain_statistics(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = Mixed()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with mb.Tracker(str(tmp_path), announce=False) as tracker:
        run = tracker.track(model, optimizer=optimizer, gradients_every=1)
        optimizer.zero_grad()
        model(torch.randn(5, 1, 6, 6)).pow(2).sum().backward()
        model.unused.grad = torch.full((2,), 0.5)  # set by hand: no backward hook saw it
        want = {n: _plain(p.grad, p) for n, p in model.named_parameters() if p.grad is not None}
        optimizer.step()
        run.finish()
        (record,) = tracker.get(run.id).gradients
    assert {p.name for p in record.parameters} == set(want)
    for stats in record.parameters:
        expected = want[stats.name]
        got = [stats.l2_norm, stats.mean, stats.std, stats.max_abs, stats.zero_fraction]
        _assert_rows([[*got, math.nan, stats.weight_norm or 0.0]], [expected])
        assert stats.nonfinite_count == 0
