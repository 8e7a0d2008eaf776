"""The network record: layers, parameter counts, optimizer and training set-up of a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from modelboard.records.base import Record

__all__ = ["LayerRecord", "OptimizerRecord", "NetworkRecord"]


@dataclass(eq=False)
class LayerRecord(Record):
    """One layer or module. ``canonical_type`` is framework-neutral (``conv2d``, ``dense``...)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    path: str
    type: str
    canonical_type: str
    config: dict[str, Any] = field(default_factory=dict)
    canonical_config: dict[str, Any] = field(default_factory=dict)
    output_shape: list[Any] | None = None
    trainable_params: int = 0
    non_trainable_params: int = 0
    depth: int = 0
    is_container: bool = False


@dataclass(eq=False)
class OptimizerRecord(Record):
    """The optimizer: name, current learning rate, full config, param groups and scheduler."""

    SCHEMA_VERSION: ClassVar[int] = 1

    name: str
    learning_rate: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    param_groups: list[dict[str, Any]] = field(default_factory=list)
    scheduler: dict[str, Any] | None = None


@dataclass(eq=False)
class NetworkRecord(Record):
    """A model as designed and trained. Parameter totals count shared parameters once."""

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
