"""The data record: which data a run saw, split by split, and how it was augmented."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from modelboard.records.base import Record

__all__ = ["SplitRecord", "AugmentationRecord", "DataRecord"]


@dataclass(eq=False)
class SplitRecord(Record):
    """One split (train, val, test, ...). Shapes list ``None`` for unknown dimensions.

    ``batch_size`` and ``steps_per_epoch`` are filled for batched data (a DataLoader, a batched
    tf.data pipeline, a Keras ``PyDataset``) when the data says them; ``unknown`` maps a field
    that could not be known to the reason (the field stays empty).
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    name: str
    source: str = "array"
    size: int | None = None
    x_shape: list[int | None] | None = None
    y_shape: list[int | None] | None = None
    x_dtype: str | None = None
    y_dtype: str | None = None
    fingerprint: str | None = None
    class_counts: dict[str, int] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    steps_per_epoch: int | None = None
    unknown: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class AugmentationRecord(Record):
    """One augmentation or preprocessing step with all of its parameters."""

    SCHEMA_VERSION: ClassVar[int] = 1

    source: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class DataRecord(Record):
    """The data of a run: name, splits, features, classes, image geometry, augmentations."""

    SCHEMA_VERSION: ClassVar[int] = 1

    name: str
    splits: dict[str, SplitRecord] = field(default_factory=dict)
    features: list[str] | None = None
    num_classes: int | None = None
    class_names: list[str] | None = None
    image: dict[str, Any] | None = None
    augmentations: list[AugmentationRecord] = field(default_factory=list)
    preprocessing: list[str] = field(default_factory=list)
    fingerprint: str | None = None
