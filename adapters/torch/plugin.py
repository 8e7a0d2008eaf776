"""The PyTorch adapter's hook implementations: each answers ``None`` for non-torch objects.

Detection and dispatch never import torch: an object is torch's only when ``torch`` is already
in ``sys.modules`` and the object is an instance of its types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import is_torch_module, loaded_torch
from modelboard.plugins import FrameworkInfo, hookimpl

if TYPE_CHECKING:
    from modelboard.adapters.torch.distributed import TorchProcessGroup
    from modelboard.adapters.torch.training import TorchTrainingHandle
    from modelboard.plugins.options import TrackOption
    from modelboard.records import (
        AugmentationRecord,
        NetworkRecord,
        ParameterGradientStats,
        SplitRecord,
    )
    from modelboard.tracking.run import Run

__all__ = [
    "modelboard_detect_framework",
    "modelboard_track_options",
    "modelboard_describe_network",
    "modelboard_attach_training",
    "modelboard_compute_gradients",
    "modelboard_predict",
    "modelboard_describe_split",
    "modelboard_describe_augmentations",
    "modelboard_environment",
    "modelboard_distributed_context",
    "modelboard_reproduce",
]


@hookimpl
def modelboard_detect_framework(obj: Any) -> FrameworkInfo | None:
    """Claim ``torch.nn.Module`` instances."""
    if not is_torch_module(obj):
        return None
    return FrameworkInfo("torch", getattr(loaded_torch(), "__version__", None))


@hookimpl
def modelboard_track_options(obj: Any) -> list[TrackOption] | None:
    """The options ``track()`` takes for this framework's models (see ``options``)."""
    if not is_torch_module(obj):
        return None
    from modelboard.adapters.torch.options import TORCH_OPTIONS

    return TORCH_OPTIONS


@hookimpl
def modelboard_describe_network(obj: Any, options: dict[str, Any]) -> NetworkRecord | None:
    """The module's network record (see ``network.describe_network``)."""
    if not is_torch_module(obj):
        return None
    from modelboard.adapters.torch.network import describe_network

    return describe_network(obj, options)


@hookimpl
def modelboard_attach_training(
    obj: Any, run: Run, options: dict[str, Any]
) -> TorchTrainingHandle | None:
    """Optimizer step hooks for gradients and learning rates (see ``training``), and the
    first-batch layer capture (see ``first_batch``), detached with the handle."""
    if not is_torch_module(obj):
        return None
    from modelboard.adapters.torch.first_batch import attach_first_batch
    from modelboard.adapters.torch.training import attach_training

    handle = attach_training(obj, run, options)
    handle.attached.append(attach_first_batch(obj, run, options))
    return handle


@hookimpl
def modelboard_compute_gradients(
    obj: Any, x: Any, y: Any, loss: Any, options: dict[str, Any]
) -> list[ParameterGradientStats] | None:
    """One batch's gradient statistics, ``.grad`` left as it was (see ``batch_gradients``)."""
    if not is_torch_module(obj):
        return None
    from modelboard.adapters.torch.gradients import batch_gradients

    return batch_gradients(obj, x, y, loss, options)


@hookimpl
def modelboard_predict(obj: Any, x: Any, options: dict[str, Any]) -> Any | None:
    """Class probabilities as numpy (the rule is in ``predict``)."""
    if not is_torch_module(obj):
        return None
    from modelboard.adapters.torch.predict import predict_probabilities

    return predict_probabilities(obj, x, options)


@hookimpl
def modelboard_describe_split(name: str, x: Any, y: Any) -> SplitRecord | None:
    """Tensors, Datasets and DataLoaders (see ``data``)."""
    if loaded_torch() is None:
        return None
    from modelboard.adapters.torch.data import describe_split

    return describe_split(name, x, y)


@hookimpl
def modelboard_describe_augmentations(obj: Any) -> list[AugmentationRecord] | None:
    """torchvision transforms, v1 and v2: one record per transform of a Compose."""
    from modelboard.adapters.torch.data import describe_augmentations, is_torchvision_transform

    if not is_torchvision_transform(obj):
        return None
    return describe_augmentations(obj)


@hookimpl
def modelboard_environment() -> dict[str, Any] | None:
    """torch facts, only when torch is already imported."""
    from modelboard.adapters.torch.environment import describe_environment

    return describe_environment()


@hookimpl
def modelboard_distributed_context() -> TorchProcessGroup | None:
    """``torch.distributed``'s default group, once initialised (see ``distributed``)."""
    from modelboard.adapters.torch.distributed import torch_process_group

    return torch_process_group()


@hookimpl
def modelboard_reproduce(network: NetworkRecord) -> Any | None:
    """Rebuild a torch module from its record's ``reproduce`` entry."""
    if network.framework != "torch" or not network.reproduce:
        return None
    from modelboard.adapters.torch.reproduce import rebuild

    return rebuild(network)
