"""The PyTorch side of ``modelboard demo``: the seed paper's two networks in PyTorch, layer
for layer the twins of the Keras adapter's, and the training loop of one demo run.

Each network ends in ``nn.Softmax(dim=1)``, like the Keras networks' softmax Dense, so that both
frameworks' canonical layer lists match (the adapter folds ``ReLU`` and ``Softmax`` into the
layer before them) and the model outputs probabilities. Training uses ``NLLLoss`` on their log.
torch and torchvision are imported inside the functions, when a demo runs.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modelboard.plugins import hookimpl

if TYPE_CHECKING:
    import torch

    from modelboard.demo import DemoJob, DemoModels
    from modelboard.demo.data import DigitsData
    from modelboard.tracking import Run

__all__ = [
    "basic_cnn",
    "vgg_cnn",
    "build",
    "make_optimizer",
    "categorical_crossentropy",
    "modelboard_demo_models",
    "modelboard_demo_session",
    "modelboard_demo_train",
]

FRAMEWORK = "torch"


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
    """The small VGG-style network of the Keras adapter's ``vgg_cnn``, channels-first."""
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


@contextlib.contextmanager
def _torch_session() -> Iterator[None]:
    """torch and torchvision imported; the Keras adapter's session imports TensorFlow after
    this one (this hookimpl is ``tryfirst``): torchvision loads triton's native library, which
    crashes a process that imported TensorFlow 2.21 first."""
    import torch  # noqa: F401
    import torchvision.transforms.v2  # noqa: F401

    yield


@contextlib.contextmanager
def _torch_context(seed: int | None) -> Iterator[Any]:
    """One intra-op thread, and with a seed, seeded RNGs and deterministic algorithms, inside the
    block; yields the loader's generator (``None`` unseeded). Torch's settings come back after.

    One thread: these networks are tiny, and on 2 busy cores torch's second OpenMP thread made
    a basic_cnn step 5 to 50 times slower (0.4-0.9 s against 4.6-18.8 s for 90 steps).
    """
    import numpy as np
    import torch

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    try:
        if seed is None:
            yield None
            return
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        yield torch.Generator().manual_seed(seed)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


class _TorchData:
    """The torchvision v2 pipeline (the seed's augmentations), tensors and the ``mb.Data``."""

    def __init__(self, data: DigitsData) -> None:
        import torch
        from torchvision.transforms import v2

        import modelboard as mb
        from modelboard.demo.data import AUGMENTATION_SETTINGS

        rotation, zoom = (
            AUGMENTATION_SETTINGS["rotation_range"],
            AUGMENTATION_SETTINGS["zoom_range"],
        )
        shift_x = AUGMENTATION_SETTINGS["width_shift_range"]
        shift_y = AUGMENTATION_SETTINGS["height_shift_range"]
        self.transform = v2.Compose(
            [
                v2.RandomAffine(
                    degrees=rotation,
                    translate=(shift_x, shift_y),
                    scale=(1 - zoom, 1 + zoom),
                ),
                v2.Normalize(mean=[data.mean], std=[data.std]),  # featurewise centre and scale
            ]
        )
        x_train = data.channels_first(data.x_train)
        x_val = data.channels_first(data.x_val)
        self.x_train = torch.from_numpy(x_train)
        self.y_train = torch.from_numpy(data.y_train)
        self.x_val = (torch.from_numpy(x_val) - data.mean) / data.std
        self.y_val = torch.from_numpy(data.y_val)
        self.record = mb.Data(
            "digits",
            train=(x_train, data.y_train),
            val=(x_val, data.y_val),
            augmentations=self.transform,
            class_names=data.class_names,
            preprocessing=["pixels / 16 -> [0, 1]", "channels first"],
        )

    def loader(self, batch_size: int, generator: Any) -> Any:
        """A shuffling DataLoader that augments each training image (``num_workers=0``)."""
        from torch.utils.data import DataLoader, Dataset

        transform, x, y = self.transform, self.x_train, self.y_train

        class _Augmented(Dataset):
            def __len__(self) -> int:
                return len(x)

            def __getitem__(self, index: int) -> tuple[Any, Any]:
                return transform(x[index]), y[index]

        return DataLoader(
            _Augmented(), batch_size=batch_size, shuffle=True, num_workers=0, generator=generator
        )


@hookimpl
def modelboard_demo_models() -> DemoModels:
    """The seed paper's basic_cnn and vgg_cnn, layer for layer the Keras adapter's twins."""
    from modelboard.demo import DemoModels

    return DemoModels(FRAMEWORK, tuple(_BUILDERS), requirements=("torch", "torchvision"))


@hookimpl(tryfirst=True)
def modelboard_demo_session(
    frameworks: list[str],
) -> contextlib.AbstractContextManager[None] | None:
    """Import torch and torchvision; ``tryfirst``, because importing torchvision after
    TensorFlow crashes the process."""
    return _torch_session() if FRAMEWORK in frameworks else None


@hookimpl
def modelboard_demo_train(job: DemoJob) -> Run | None:
    """Train a PyTorch demo run with a plain loop, one thread, seeded when the demo is."""
    if job.framework != FRAMEWORK:
        return None
    with _torch_context(job.seed) as generator:
        return _train(job, generator)


def _train(job: DemoJob, generator: Any) -> Run:
    import torch

    data, s = job.data, job.setting
    prepared = job.prepared(_TorchData)
    model = build(s.model, tuple(prepared.x_train.shape[1:]), data.num_classes)
    optimizer = make_optimizer(s.optimizer, model.parameters(), s.learning_rate)
    loader = prepared.loader(s.batch_size, generator)
    run = job.track(
        model,
        data=prepared.record,
        optimizer=optimizer,
        example_input=prepared.x_val[:1],
        architecture=s.model,
        loss=categorical_crossentropy,
        batch_size=s.batch_size,
        epochs=s.epochs,
    )
    with run:
        for epoch in range(s.epochs):
            model.train()
            total_loss, correct, seen = 0.0, 0, 0
            for xb, yb in loader:
                optimizer.zero_grad()
                probabilities = model(xb)
                loss = categorical_crossentropy(probabilities, yb)
                loss.backward()
                optimizer.step()
                total_loss += float(loss.detach()) * len(yb)
                correct += int((probabilities.argmax(1) == yb).sum())
                seen += len(yb)
                job.advance(1)
            model.eval()
            with torch.no_grad():
                val_p = model(prepared.x_val)
                val_loss = float(categorical_crossentropy(val_p, prepared.y_val))
                val_acc = float((val_p.argmax(1) == prepared.y_val).float().mean())
            run.log(
                epoch=epoch,
                loss=total_loss / seen,
                accuracy=correct / seen,
                val_loss=val_loss,
                val_accuracy=val_acc,
                learning_rate=optimizer.param_groups[0]["lr"],
            )
        run.evaluate(prepared.x_val, data.y_val, class_names=data.class_names)
    return run
