"""Every hook the adapter adds goes away on finish and when the module is tracked again;
the recorded optimizer follows the learning rate."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch
from torch.nn.modules import module as module_globals

import modelboard as mb

pytestmark = pytest.mark.torch


def _module_hooks(module: torch.nn.Module) -> int:
    names = (
        "_forward_hooks",
        "_forward_pre_hooks",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_state_dict_hooks",
        "_load_state_dict_pre_hooks",
    )
    return sum(len(getattr(m, name)) for m in module.modules() for name in names)


def _global_hooks() -> int:
    names = (
        "_global_forward_hooks",
        "_global_forward_pre_hooks",
        "_global_backward_hooks",
        "_global_backward_pre_hooks",
    )
    return sum(len(getattr(module_globals, name)) for name in names)


def _optimizer_hooks(optimizer: torch.optim.Optimizer) -> int:
    return len(optimizer._optimizer_step_pre_hooks) + len(optimizer._optimizer_step_post_hooks)


def test_finish_and_retracking_remove_every_hook(
    torch_tracker: mb.Tracker, models: ModuleType, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    module = models.BasicCNN()
    first_opt = torch.optim.SGD(module.parameters(), lr=0.01)
    second_opt = torch.optim.Adam(module.parameters(), lr=0.01)
    baseline = (_module_hooks(module), _global_hooks())
    example = torch.zeros(1, 1, 8, 8)
    first = torch_tracker.track(module, optimizer=first_opt, example_input=example)
    assert _optimizer_hooks(first_opt) == 2
    assert (_module_hooks(module), _global_hooks()) == baseline  # shape hooks are gone

    second = torch_tracker.track(module, optimizer=second_opt, example_input=example)
    assert _optimizer_hooks(first_opt) == 0 and _optimizer_hooks(second_opt) == 2
    third = torch_tracker.track(module, optimizer=second_opt, gradients_every=1)
    assert _optimizer_hooks(second_opt) == 2  # the same optimizer does not collect two sets

    x, y = digits
    second_opt.zero_grad()
    models.probability_loss(module(x), y).backward()
    second_opt.step()
    third.finish()
    assert _optimizer_hooks(second_opt) == 0
    assert (_module_hooks(module), _global_hooks()) == baseline
    assert len(torch_tracker.get(third.id).gradients) == 1
    assert torch_tracker.get(second.id).gradients == []  # detached before that step
    first.finish()
    second.finish()


def test_the_recorded_learning_rate_follows_the_scheduler(
    torch_tracker: mb.Tracker, models: ModuleType, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    module = models.BasicCNN()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    run = torch_tracker.track(module, optimizer=optimizer, scheduler=scheduler)
    assert run.network.optimizer.scheduler["name"] == "StepLR"
    x, y = digits
    for epoch in range(3):
        for _ in range(2):
            optimizer.zero_grad()
            loss = models.probability_loss(module(x), y)
            loss.backward()
            optimizer.step()
        scheduler.step()
        run.log(epoch=epoch, loss=loss)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)
    run.finish()
    stored = torch_tracker.get(run.id).network.optimizer
    assert stored.learning_rate == pytest.approx(0.1)  # as configured
    assert stored.learning_rate_last == pytest.approx(0.0125)  # as last applied
    assert stored.param_groups[0]["lr"] == pytest.approx(0.0125)
    assert stored.scheduler["last_lr"] == [pytest.approx(0.0125)]
    assert stored.scheduler["state"]["last_epoch"] == 3


def _grad_hooks(module: torch.nn.Module) -> int:
    return sum(len(p._post_accumulate_grad_hooks or {}) for p in module.parameters())


def test_parameter_hooks_are_on_only_around_capture_steps(torch_tracker: mb.Tracker) -> None:
    """Non-capture steps cost the two optimizer hooks and nothing per parameter."""
    from torch.optim import optimizer as optim_module

    layer = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    global_hooks = len(optim_module._global_optimizer_pre_hooks)
    run = torch_tracker.track(layer, optimizer=optimizer, gradients_every=4)
    assert len(optim_module._global_optimizer_pre_hooks) == global_hooks  # given: not searched
    on = []
    for _ in range(9):
        on.append(_grad_hooks(layer) > 0)  # installed for the backward of this step?
        optimizer.zero_grad()
        layer(torch.ones(2, 3)).sum().backward()
        optimizer.step()
    run.finish()
    assert on == [True, False, False, False, True, False, False, False, True]
    assert _grad_hooks(layer) == 0
    assert [g.step for g in torch_tracker.get(run.id).gradients] == [0, 4, 8]
