"""Gradients: captured from .grad at optimizer steps, under GradScaler, and on demand."""

from __future__ import annotations

import math
from types import ModuleType

import pytest
import torch

import modelboard as mb

pytestmark = pytest.mark.torch


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-30)


def _by_step(
    tracker: mb.Tracker, run: mb.Run
) -> dict[int, dict[str, mb.records.ParameterGradientStats]]:
    stored = tracker.get(run.id)
    return {g.step: {p.name: p for p in g.parameters} for g in stored.gradients}


def test_update_ratio_can_be_turned_off(
    torch_tracker: mb.Tracker, models: ModuleType, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    module = models.BasicCNN()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.05)
    run = torch_tracker.track(module, optimizer=optimizer, gradients_every=1, update_ratio=False)
    x, y = digits
    optimizer.zero_grad()
    models.probability_loss(module(x), y).backward()
    optimizer.step()
    run.finish()
    (record,) = torch_tracker.get(run.id).gradients
    assert all(p.update_ratio is None and p.l2_norm > 0 for p in record.parameters)


def test_recorded_norms_equal_the_hand_computed_ones(
    torch_tracker: mb.Tracker, models: ModuleType, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    torch.manual_seed(0)
    module = models.BasicCNN()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9)
    run = torch_tracker.track(module, optimizer=optimizer, gradients_every=3)
    x, y = digits
    by_hand: dict[int, dict[str, tuple[float, ...]]] = {}
    for step in range(7):
        optimizer.zero_grad()
        models.probability_loss(module(x), y).backward()
        before = {n: p.detach().clone() for n, p in module.named_parameters()}
        optimizer.step()
        if step % 3 == 0:
            by_hand[step] = {
                n: (
                    p.grad.double().norm().item(),
                    p.grad.double().mean().item(),
                    p.grad.double().abs().max().item(),
                    (p.detach() - before[n]).double().norm().item()
                    / before[n].double().norm().item(),
                    before[n].double().norm().item(),
                    p.grad.double().std(correction=0).item(),
                )
                for n, p in module.named_parameters()
            }
    run.finish()
    recorded = _by_step(torch_tracker, run)
    assert sorted(recorded) == [0, 3, 6]
    for step, params in by_hand.items():
        assert set(recorded[step]) == set(params)
        for name, (norm, mean, max_abs, ratio, weight, std) in params.items():
            stats = recorded[step][name]
            assert _rel(stats.l2_norm, norm) < 1e-6
            assert abs(stats.mean - mean) < 1e-6 * max(1e-3, abs(norm))
            assert _rel(stats.max_abs, max_abs) < 1e-6
            assert _rel(stats.weight_norm, weight) < 1e-6
            assert _rel(stats.std, std) < 1e-5
            assert _rel(stats.update_ratio, ratio) < 1e-4
            assert stats.nonfinite_count == 0
    record = torch_tracker.get(run.id).gradients[0]
    assert record.source == "training" and record.scaled is False
    hand_global = math.sqrt(sum(v[0] ** 2 for v in by_hand[0].values()))
    assert _rel(record.global_norm, hand_global) < 1e-6


def test_zero_fraction_std_and_nonfinite_flags(torch_tracker: mb.Tracker) -> None:
    layer = torch.nn.Linear(4, 1, bias=False)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    run = torch_tracker.track(layer, optimizer=optimizer, gradients_every=1)
    layer.weight.grad = torch.tensor([[0.0, 0.0, 3.0, 4.0]])
    optimizer.step()
    layer.weight.grad = torch.tensor([[float("nan"), 1.0, 0.0, float("inf")]])
    optimizer.step()
    run.finish()
    stored = torch_tracker.get(run.id)
    first, second = (g.parameters[0] for g in stored.gradients)
    assert first.zero_fraction == 0.5 and first.l2_norm == 5.0 and first.max_abs == 4.0
    assert first.std == pytest.approx(torch.tensor([0.0, 0.0, 3.0, 4.0]).std(correction=0).item())
    assert second.nonfinite_count == 2
    assert stored.gradients[1].flags["nonfinite"] is True
    assert stored.run.flags["gradients_nonfinite"] is True


def test_gradients_every_zero_turns_capture_off(
    torch_tracker: mb.Tracker, models: ModuleType, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    module = models.BasicCNN()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01)
    run = torch_tracker.track(module, optimizer=optimizer, gradients_every=0)
    x, y = digits
    for _ in range(3):
        optimizer.zero_grad()
        models.probability_loss(module(x), y).backward()
        optimizer.step()
    run.finish()
    assert torch_tracker.get(run.id).gradients == []


def test_default_schedule_captures_every_default_steps(torch_tracker: mb.Tracker) -> None:
    layer = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.01)
    run = torch_tracker.track(layer, optimizer=optimizer)
    every = mb.gradients.DEFAULT_GRADIENTS_EVERY
    for _ in range(every + 1):
        optimizer.zero_grad()
        layer(torch.ones(2, 3)).sum().backward()
        optimizer.step()
    run.finish()
    assert [g.step for g in torch_tracker.get(run.id).gradients] == [0, every]


def _scaled_step(
    module: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: object, x: torch.Tensor
) -> tuple[float, float]:
    optimizer.zero_grad()
    scaler.scale(module(x).pow(2).mean()).backward()  # type: ignore[attr-defined]
    scaled = module.weight.grad.double().norm().item()
    scaler.step(optimizer)  # type: ignore[attr-defined]
    scaler.update()  # type: ignore[attr-defined]
    return scaled, module.weight.grad.double().norm().item()


@pytest.mark.parametrize("fused", [False, True], ids=["sgd", "fused-adam"])
def test_gradscaler_records_unscaled_gradients(torch_tracker: mb.Tracker, fused: bool) -> None:
    """GradScaler.step unscales .grad before a plain optimizer steps; a fused optimizer gets the
    scale instead and the adapter divides it out. Either way the record holds unscaled values."""
    torch.manual_seed(1)
    module = torch.nn.Linear(8, 4)
    if fused:
        optimizer = torch.optim.Adam(module.parameters(), lr=0.01, fused=True)
    else:
        optimizer = torch.optim.SGD(module.parameters(), lr=0.01)
    scale = 2.0**12
    scaler = torch.amp.GradScaler("cpu", init_scale=scale)
    run = torch_tracker.track(module, optimizer=optimizer, gradients_every=1)
    scaled, unscaled = _scaled_step(module, optimizer, scaler, torch.rand(16, 8))
    run.finish()
    assert _rel(scaled, unscaled * scale) < 1e-5  # .grad really was scaled after backward
    record = torch_tracker.get(run.id).gradients[0]
    stats = {p.name: p for p in record.parameters}["weight"]
    assert record.scaled is False
    assert _rel(stats.l2_norm, unscaled) < 1e-6
    assert _rel(stats.l2_norm, scaled) > 0.99


def test_on_demand_gradients_leave_grad_untouched(
    torch_tracker: mb.Tracker, models: ModuleType, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    torch.manual_seed(2)
    module = models.BasicCNN()
    module.eval()  # no dropout: the hand computation below sees the same function
    run = torch_tracker.track(module)
    x, y = digits
    record = run.gradients(x.numpy(), y.numpy(), models.probability_loss)
    assert all(p.grad is None for p in module.parameters())
    models.probability_loss(module(x), y).backward()
    hand = {n: p.grad.double().norm().item() for n, p in module.named_parameters()}
    recorded = {p.name: p.l2_norm for p in record.parameters}
    assert set(recorded) == set(hand)
    assert all(_rel(recorded[n], hand[n]) < 1e-5 for n in hand)
    # existing .grad stays as it was; the default loss (NLL of probabilities) is the same loss
    kept = {n: p.grad.clone() for n, p in module.named_parameters()}
    again = run.gradients(x, y)
    assert all(torch.equal(p.grad, kept[n]) for n, p in module.named_parameters())
    assert all(_rel(p.l2_norm, hand[p.name]) < 1e-5 for p in again.parameters)
    assert again.source == "on_demand" and again.parameters[0].update_ratio is None
    run.finish()
    sources = [g.source for g in torch_tracker.get(run.id).gradients]
    assert sources.count("on_demand") == 2  # the hand backward above is a training capture
    assert sources.count("training") == 1  # (no optimizer given: backward passes are counted)


def test_on_demand_gradients_restore_batchnorm_statistics(torch_tracker: mb.Tracker) -> None:
    module = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)
    )
    run = torch_tracker.track(module)
    before = module[1].running_mean.clone()
    record = run.gradients(torch.rand(8, 3), torch.randint(0, 2, (8,)))
    assert torch.equal(module[1].running_mean, before)
    assert len(record.parameters) == 6 and record.global_norm > 0
    run.finish()
