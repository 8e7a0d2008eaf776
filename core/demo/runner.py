"""Trains the demo's runs, each in its framework, with modelboard tracking every one."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import random
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from modelboard.demo.data import AUGMENTATION_SETTINGS, DigitsData
from modelboard.demo.grid import Setting

if TYPE_CHECKING:
    from modelboard.tracking import Run, Tracker

__all__ = [
    "FRAMEWORKS",
    "REQUIREMENTS",
    "RunPlan",
    "RunResult",
    "StepProgress",
    "import_frameworks",
    "tensorflow_logs_dropped",
    "missing_packages",
    "plan_runs",
    "train",
]

FRAMEWORKS = ("keras", "torch")
#: The import names each framework's runs need.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "keras": ("tensorflow", "keras"),
    "torch": ("torch", "torchvision"),
}
#: Gradient statistics every this many training steps (quick runs have 45 steps an epoch).
GRADIENTS_EVERY = 10


class StepProgress(Protocol):
    """What the runner reports to: one call per training step."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more training steps are done."""


@dataclass(frozen=True)
class RunPlan:
    """One run to train: a grid setting in a framework."""

    framework: str
    setting: Setting

    @property
    def label(self) -> str:
        """``keras basic_cnn b32 e5 adam``."""
        return f"{self.framework} {self.setting.label}"

    def steps(self, n_train: int) -> int:
        """Training steps of the whole run (no batch is dropped)."""
        return math.ceil(n_train / self.setting.batch_size) * self.setting.epochs


@dataclass
class RunResult:
    """How a run went: its id, validation accuracy, wall time, or the error that stopped it."""

    plan: RunPlan
    run_id: str | None = None
    val_accuracy: float | None = None
    seconds: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def missing_packages(framework: str) -> list[str]:
    """The packages ``framework`` needs that are not installed (found without importing)."""
    return [name for name in REQUIREMENTS[framework] if importlib.util.find_spec(name) is None]


#: TensorFlow's C++ log lines (absl format), which ignore TF_CPP_MIN_LOG_LEVEL in TF 2.21.
_TF_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d+:\d+:\d+\.\d+\s+\d+ [\w.]+:\d+\]"
    rb"|WARNING: All log messages before absl::InitializeLog"
    rb"|To enable the following instructions: )"
)


@contextlib.contextmanager
def tensorflow_logs_dropped() -> Iterator[None]:
    """Inside the block, drop TensorFlow's C++ log lines from file descriptor 2 (``E0000 ...
    failed call to cuInit``, start-up banners); every other line passes through unchanged."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe, os.fdopen(os.dup(saved), "wb") as out:
            for line in pipe:
                if not _TF_LOG_LINE.match(line):
                    out.write(line)
                    out.flush()

    thread = threading.Thread(target=pump, name="modelboard-demo-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump sees the end and stops
        os.close(saved)
        thread.join(timeout=5)


def import_frameworks(frameworks: Sequence[str]) -> None:
    """Import the frameworks' modules, torch and torchvision first.

    Importing torchvision (which loads triton's native library) after TensorFlow crashes the
    process with a segmentation fault here (TF 2.21, torch 2.14.1, torchvision 0.29.1); in the
    other order both work. TensorFlow gets one intra-op thread when it has not started yet:
    on 2 busy cores that made the basic_cnn's epochs about 3 times faster (see
    ``_torch_context`` for torch's).
    """
    if "torch" in frameworks:
        import torch  # noqa: F401
        import torchvision.transforms.v2  # noqa: F401
    if "keras" in frameworks:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras  # noqa: F401
        import tensorflow as tf

        with contextlib.suppress(RuntimeError):  # raised once TensorFlow's runtime has started
            tf.config.threading.set_intra_op_parallelism_threads(1)


def plan_runs(settings: Sequence[Setting], frameworks: Sequence[str]) -> list[RunPlan]:
    """Every setting in every framework, setting by setting."""
    return [RunPlan(fw, setting) for setting in settings for fw in frameworks]


def _hparams(plan: RunPlan, seed: int | None) -> dict[str, Any]:
    s = plan.setting
    return {
        "batch_size": s.batch_size,
        "epochs": s.epochs,
        "optimizer": s.optimizer,
        "learning_rate": s.learning_rate,
        "seed": seed,
        "paper_setting": s.paper,
    }


def _tags(plan: RunPlan, session: str) -> dict[str, str]:
    return {"demo": session, "model": plan.setting.model, "framework": plan.framework}


# -- Keras ------------------------------------------------------------------------------------


def _seed_keras(seed: int | None) -> None:
    """Seed Python, numpy, TensorFlow and Keras; turn on TensorFlow's op determinism (it has
    no switch to turn it off again: it stays on in this process)."""
    if seed is None:
        return
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class _KerasData:
    """The fitted ImageDataGenerator and the ``mb.Data`` that records it, made once."""

    def __init__(self, data: DigitsData) -> None:
        import modelboard as mb
        import tensorflow as tf

        self.datagen = tf.keras.preprocessing.image.ImageDataGenerator(**AUGMENTATION_SETTINGS)
        self.datagen.fit(data.x_train)  # featurewise mean and std of the training images
        self.y_train = data.one_hot(data.y_train)
        self.y_val = data.one_hot(data.y_val)
        self.x_val = self.datagen.standardize(data.x_val.copy())
        self.record = mb.Data(
            "digits",
            train=(data.x_train, self.y_train),
            val=(data.x_val, self.y_val),
            augmentations=self.datagen,
            class_names=data.class_names,
            preprocessing=["pixels / 16 -> [0, 1]", "one-hot labels"],
        )


def _train_keras(
    tracker: Tracker,
    data: DigitsData,
    prepared: _KerasData,
    plan: RunPlan,
    seed: int | None,
    progress: StepProgress,
    session: str,
    result: RunResult,
) -> Run:
    import keras
    from modelboard.demo import keras_models

    _seed_keras(seed)
    s = plan.setting
    model = keras_models.build(s.model, data.x_train.shape[1:], data.num_classes)
    model.compile(
        optimizer=keras_models.make_optimizer(s.optimizer, s.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )

    class _Steps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            progress.advance(1)

    run = tracker.track(
        model,
        name=s.model,
        data=prepared.record,
        hparams=_hparams(plan, seed),
        tags=_tags(plan, session),
        gradients_every=GRADIENTS_EVERY,
    )
    result.run_id = run.id
    with run:
        flow = prepared.datagen.flow(
            data.x_train, prepared.y_train, batch_size=s.batch_size, shuffle=True, seed=seed
        )
        model.fit(
            flow,
            validation_data=(prepared.x_val, prepared.y_val),
            epochs=s.epochs,
            verbose=0,
            callbacks=[_Steps()],
        )
        run.evaluate(prepared.x_val, data.y_val, class_names=data.class_names)
    return run


# -- PyTorch ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _torch_context(seed: int | None) -> Iterator[Any]:
    """One intra-op thread, and with a seed, seeded RNGs and deterministic algorithms, inside the
    block; yields the loader's generator (``None`` unseeded). Torch's settings come back after.

    One thread: these networks are tiny, and on 2 busy cores torch's second OpenMP thread made
    a basic_cnn step 5 to 50 times slower (0.4-0.9 s against 4.6-18.8 s for 90 steps).
    """
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
        import modelboard as mb
        import torch
        from torchvision.transforms import v2

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


def _train_torch(
    tracker: Tracker,
    data: DigitsData,
    prepared: _TorchData,
    plan: RunPlan,
    seed: int | None,
    progress: StepProgress,
    session: str,
    result: RunResult,
) -> Run:
    with _torch_context(seed) as generator:
        args = (tracker, data, prepared, plan, seed, progress, session, result)
        return _train_torch_seeded(*args, generator)


def _train_torch_seeded(
    tracker: Tracker,
    data: DigitsData,
    prepared: _TorchData,
    plan: RunPlan,
    seed: int | None,
    progress: StepProgress,
    session: str,
    result: RunResult,
    generator: Any,
) -> Run:
    import torch
    from modelboard.demo import torch_models

    s = plan.setting
    model = torch_models.build(s.model, tuple(prepared.x_train.shape[1:]), data.num_classes)
    optimizer = torch_models.make_optimizer(s.optimizer, model.parameters(), s.learning_rate)
    loader = prepared.loader(s.batch_size, generator)
    run = tracker.track(
        model,
        name=s.model,
        data=prepared.record,
        hparams=_hparams(plan, seed),
        tags=_tags(plan, session),
        optimizer=optimizer,
        example_input=prepared.x_val[:1],
        architecture=s.model,
        loss=torch_models.categorical_crossentropy,
        batch_size=s.batch_size,
        epochs=s.epochs,
        gradients_every=GRADIENTS_EVERY,
    )
    result.run_id = run.id
    with run:
        for epoch in range(s.epochs):
            model.train()
            total_loss, correct, seen = 0.0, 0, 0
            for xb, yb in loader:
                optimizer.zero_grad()
                probabilities = model(xb)
                loss = torch_models.categorical_crossentropy(probabilities, yb)
                loss.backward()
                optimizer.step()
                total_loss += float(loss.detach()) * len(yb)
                correct += int((probabilities.argmax(1) == yb).sum())
                seen += len(yb)
                progress.advance(1)
            model.eval()
            with torch.no_grad():
                val_p = model(prepared.x_val)
                val_loss = float(torch_models.categorical_crossentropy(val_p, prepared.y_val))
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


# -- both -------------------------------------------------------------------------------------


def train(
    tracker: Tracker,
    data: DigitsData,
    plan: RunPlan,
    seed: int | None,
    progress: StepProgress,
    session: str,
    prepared: dict[str, Any],
) -> RunResult:
    """Train and evaluate one run; an error fails that run (recorded) and is returned."""
    start = time.perf_counter()
    result = RunResult(plan)
    try:
        if plan.framework == "keras":
            if "keras" not in prepared:
                prepared["keras"] = _KerasData(data)
            args = (tracker, data, prepared["keras"], plan, seed, progress, session, result)
            run = _train_keras(*args)
        else:
            if "torch" not in prepared:
                prepared["torch"] = _TorchData(data)
            args = (tracker, data, prepared["torch"], plan, seed, progress, session, result)
            run = _train_torch(*args)
        evaluation = tracker.get(run.id).evaluations.get("val")
        if evaluation is not None:
            result.val_accuracy = evaluation.metrics.get("accuracy")
    except Exception as exc:  # one failed run must not stop the demo; it is reported
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    return result
