"""The network record: layers, parameter counts, optimizer and training set-up of a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from modelboard.records.base import Record

__all__ = ["LayerRecord", "OptimizerRecord", "NetworkRecord"]


@dataclass(eq=False)
class LayerRecord(Record):
    """One layer or module. ``type`` is the short class name (``Conv2D``, ``Conv2d``),
    ``module`` the Python module defining it; ``canonical_type`` is framework-neutral
    (``conv2d``, ``dense``...). ``origin`` is ``module`` for a layer object and ``function`` for
    an operation that forward ran as a function call (``F.relu``, ``torch.flatten``)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    path: str
    type: str
    canonical_type: str
    module: str | None = None
    origin: str = "module"
    config: dict[str, Any] = field(default_factory=dict)
    canonical_config: dict[str, Any] = field(default_factory=dict)
    output_shape: list[Any] | None = None
    trainable_params: int = 0
    non_trainable_params: int = 0
    depth: int = 0
    is_container: bool = False


@dataclass(eq=False)
class OptimizerRecord(Record):
    """One optimizer: canonical name, class, learning rates, full config, param groups and
    scheduler.

    ``name`` is the canonical lower-case name (``adam``, ``sgd``; ``modelboard.canonical``),
    ``class_name`` the framework's class. ``key`` names the optimizer within its run
    (``optimizer`` for the only one; ``generator``, ``d_optimizer``... for several); gradient
    captures carry the same key. ``learning_rate`` is the configured initial value,
    ``learning_rate_last`` the last one applied (after schedules and schedulers).
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    name: str
    learning_rate: float | None = None
    class_name: str | None = None
    key: str = "optimizer"
    learning_rate_last: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    param_groups: list[dict[str, Any]] = field(default_factory=list)
    scheduler: dict[str, Any] | None = None


@dataclass(eq=False)
class NetworkRecord(Record):
    """A model as designed and trained. Parameter totals count shared parameters once.

    ``optimizer`` is the run's first optimizer and ``optimizers`` all of them (a GAN has two).
    ``epochs_run`` counts the epochs that ran, ``epochs_planned`` the epochs asked for.
    ``unknown`` maps a field that could not be known to the reason (the field stays empty).
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    framework: str
    architecture: str
    layers: list[LayerRecord] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    size_bytes: int = 0
    signature: str | None = None
    input_shape: list[Any] | None = None
    output_shape: list[Any] | None = None
    optimizer: OptimizerRecord | None = None
    optimizers: list[OptimizerRecord] = field(default_factory=list)
    loss: Any = None
    metrics: list[str] = field(default_factory=list)
    batch_size: int | None = None
    epochs_planned: int | None = None
    epochs_run: int = 0
    steps_per_epoch: int | None = None
    early_stopping: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    model_config: dict[str, Any] | None = None
    reproduce: dict[str, Any] | None = None
    unknown: dict[str, str] = field(default_factory=dict)
    distribution: dict[str, Any] | None = None
