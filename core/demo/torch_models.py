"""The seed paper's two networks in PyTorch: layer for layer the twins of ``keras_models``.

Each ends in ``nn.Softmax(dim=1)``, like the Keras networks' softmax Dense, so that both
frameworks' canonical layer lists match (the adapter folds ``ReLU`` and ``Softmax`` into the
layer before them) and the model outputs probabilities. Training uses ``NLLLoss`` on their log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["basic_cnn", "vgg_cnn", "build", "make_optimizer", "categorical_crossentropy"]


def _flat_features(channels: int, height: int, width: int, pools: int) -> int:
    return channels * (height // 2**pools) * (width // 2**pools)


def basic_cnn(
    input_shape: tuple[int, int, int] = (1, 8, 8), num_classes: int = 10
) -> torch.nn.Module:
    """The seed's basic_cnn, channels-first input ``(c, h, w)``."""
    from torch import nn

    channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(_flat_features(128, height, width, 3), 64),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(64, num_classes),
        nn.Softmax(dim=1),
    )


def vgg_cnn(
    input_shape: tuple[int, int, int] = (1, 8, 8), num_classes: int = 10
) -> torch.nn.Module:
    """The small VGG-style network of ``keras_models.vgg_cnn``, channels-first."""
    from torch import nn

    channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding="same"),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding="same"),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(_flat_features(64, height, width, 2), 128),
        nn.ReLU(),
        nn.Linear(128, 60),
        nn.ReLU(),
        nn.Linear(60, num_classes),
        nn.Softmax(dim=1),
    )


_BUILDERS = {"basic_cnn": basic_cnn, "vgg_cnn": vgg_cnn}


def build(model: str, input_shape: tuple[int, int, int], num_classes: int) -> torch.nn.Module:
    """The network called ``model`` (``basic_cnn`` or ``vgg_cnn``)."""
    return _BUILDERS[model](input_shape, num_classes)


def make_optimizer(name: str, parameters: Any, learning_rate: float) -> torch.optim.Optimizer:
    """A torch optimizer by the seed's names, with Keras 3's epsilon and accumulators."""
    import torch

    if name == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate, eps=1e-7)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=learning_rate)
    if name == "adagrad":
        # Keras starts Adagrad's accumulators at 0.1 and adds epsilon 1e-7.
        return torch.optim.Adagrad(
            parameters, lr=learning_rate, initial_accumulator_value=0.1, eps=1e-7
        )
    raise ValueError(f"unknown optimizer {name!r}; use adam, sgd or adagrad")


def categorical_crossentropy(probabilities: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of softmax outputs: ``NLLLoss`` on their clamped log (Keras does the same)."""
    import torch

    log_p = torch.log(probabilities.clamp_min(1e-7))
    return torch.nn.functional.nll_loss(log_p, target)
