"""The options ``track(module, **options)`` takes for a torch module (checked by the tracker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelboard.plugins.options import SHARED_OPTIONS, TrackOption, anything, is_flag, is_mapping

__all__ = ["TORCH_OPTIONS"]


def _is_optimizers(value: Any) -> bool:
    """An optimizer, or a list/tuple/dict of them (a GAN's two)."""
    import torch

    if isinstance(value, torch.optim.Optimizer):
        return True
    if isinstance(value, Mapping):
        values = list(value.values())
        if not all(isinstance(k, str) for k in value):
            return False
    elif isinstance(value, (list, tuple)):
        values = list(value)
    else:
        return False
    return bool(values) and all(isinstance(v, torch.optim.Optimizer) for v in values)


def _is_grad_scaler(value: Any) -> bool:
    from torch.amp import GradScaler

    return isinstance(value, GradScaler)


def _is_factory(value: Any) -> bool:
    return isinstance(value, str) or callable(value)


TORCH_OPTIONS: list[TrackOption] = [
    *SHARED_OPTIONS.values(),  # every shared option means the same here
    TrackOption(
        "optimizer",
        "a torch.optim.Optimizer, or a list or dict of them",
        "the optimizer(s) of the training loop (optimizers that step the module's parameters "
        "are also found without it)",
        _is_optimizers,
    ),
    TrackOption(
        "scheduler",
        "a learning-rate scheduler (or a list or dict of them)",
        "the scheduler(s), when they cannot be found from the optimizer",
        anything,
    ),
    TrackOption(
        "loss",
        "a loss module, a function, or the name of a torch.nn.functional loss",
        "the training loss (recorded; run.gradients uses it)",
        anything,
    ),
    TrackOption(
        "init_args",
        "a dict of the module's constructor arguments",
        "what mb.reproduce calls the class with",
        is_mapping,
    ),
    TrackOption(
        "factory",
        "a function or its 'package.module:function' path",
        "the builder mb.reproduce calls with init_args (torchvision.models.resnet18)",
        _is_factory,
    ),
    TrackOption(
        "grad_scaler",
        "a torch.amp.GradScaler",
        "the AMP loss scaler, when something other than scaler.step(optimizer) calls the step "
        "(found on its own otherwise); its scale is divided out of the recorded gradients",
        _is_grad_scaler,
    ),
    TrackOption(
        "update_ratio",
        "True or False",
        "whether gradient captures also measure |update| / |weight| (copies the parameters "
        "once per capture; default: for models up to 512 MiB)",
        is_flag,
    ),
]
"""Every option the PyTorch adapter reads."""
