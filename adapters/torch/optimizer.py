"""The optimizer and learning-rate scheduler of a torch training loop as an ``OptimizerRecord``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch._util import plain_value
from modelboard.records import OptimizerRecord

if TYPE_CHECKING:
    import torch

__all__ = ["describe_optimizer", "describe_scheduler", "learning_rates"]


def learning_rates(optimizer: torch.optim.Optimizer) -> tuple[Any, ...]:
    """Each param group's current learning rate (cheap: read on every step to see changes)."""
    return tuple(group.get("lr") for group in optimizer.param_groups)


def describe_scheduler(scheduler: Any) -> dict[str, Any]:
    """Class, last learning rates and the public state of an LR scheduler."""
    state: dict[str, Any] = {}
    try:
        raw = scheduler.state_dict()
    except Exception:  # a scheduler without state_dict still gets a name
        raw = {}
    for key, value in raw.items():
        if key.startswith("_") or callable(value) or key == "optimizer":
            continue
        state[key] = plain_value(value)
    last_lr = None
    get_last_lr = getattr(scheduler, "get_last_lr", None)
    if callable(get_last_lr):
        try:
            last_lr = plain_value(list(get_last_lr()))
        except Exception:  # before the first step some schedulers have no last lr
            last_lr = None
    return {"name": type(scheduler).__name__, "last_lr": last_lr, "state": state}


def describe_optimizer(optimizer: torch.optim.Optimizer, scheduler: Any = None) -> OptimizerRecord:
    """Class, current learning rate, defaults and every param group's hyperparameters."""
    groups = []
    for group in optimizer.param_groups:
        entry = {k: plain_value(v) for k, v in group.items() if k != "params"}
        entry["num_tensors"] = len(group["params"])
        entry["num_params"] = int(sum(p.numel() for p in group["params"]))
        groups.append(entry)
    lr = groups[0].get("lr") if groups else None
    return OptimizerRecord(
        name=type(optimizer).__name__,
        learning_rate=float(lr) if isinstance(lr, (int, float)) else None,
        config={k: plain_value(v) for k, v in optimizer.defaults.items()},
        param_groups=groups,
        scheduler=describe_scheduler(scheduler) if scheduler is not None else None,
    )
