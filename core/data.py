"""``mb.Data``: the data a run sees, split by split, with fingerprints and augmentations."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pluggy

from modelboard.fingerprint import combine_fingerprints, fingerprint_array
from modelboard.records import AugmentationRecord, DataRecord, SplitRecord

__all__ = [
    "Data",
    "describe_arrays",
    "describe_batches",
    "class_counts",
    "image_geometry",
    "rows",
    "training_facts",
    "training_unknowns",
]

log = logging.getLogger("modelboard")

_MAX_CLASSES = 1000
#: The SplitRecord fields that ``training_facts`` hands to the network record.
TRAINING_FIELDS = ("batch_size", "steps_per_epoch")


def image_geometry(shape: Sequence[int | None] | None) -> dict[str, Any] | None:
    """Width, height and channels of a batch of images from its shape, or ``None``.

    ``(n, h, w)`` is one channel; ``(n, h, w, c)`` is channels-last when ``c`` is 1, 3 or 4,
    else ``(n, c, h, w)`` channels-first when ``c`` is 1, 3 or 4.
    """
    if not shape:
        return None
    dims = list(shape)
    if len(dims) == 3:
        return {"height": dims[1], "width": dims[2], "channels": 1, "layout": "hw"}
    if len(dims) == 4:
        if dims[3] in (1, 3, 4):
            return {"height": dims[1], "width": dims[2], "channels": dims[3], "layout": "hwc"}
        if dims[1] in (1, 3, 4):
            return {"height": dims[2], "width": dims[3], "channels": dims[1], "layout": "chw"}
    return None


def _split_parts(value: Any) -> tuple[Any, Any]:
    if isinstance(value, tuple) and len(value) == 2:
        return value
    if isinstance(value, tuple) and len(value) == 1:
        return value[0], None
    return value, None


class Data:
    """The data of a run, described when it is made and attached with ``track(data=...)``.

    Each split is ``(x, y)``, ``x`` alone, or a framework object (tf.data, DataLoader) that an
    adapter describes. ``augmentations`` is an ImageDataGenerator, a torchvision transform, a
    dict of settings, or a list of those. ``features`` names the input columns.

    >>> import numpy as np
    >>> data = Data("toy", train=(np.zeros((4, 2)), np.array([0, 1, 0, 1])), features=["a", "b"])
    >>> data.record.splits["train"].class_counts
    {'0': 2, '1': 2}
    """

    def __init__(
        self,
        name: str,
        train: Any = None,
        val: Any = None,
        test: Any = None,
        *,
        augmentations: Any = None,
        features: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        preprocessing: Sequence[str] | None = None,
        splits: dict[str, Any] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("mb.Data needs a non-empty name, e.g. mb.Data('digits', train=(x, y))")
        if plugin_manager is None:
            from modelboard.plugins import get_plugin_manager

            plugin_manager = get_plugin_manager()
        self._hooks = plugin_manager.hook
        all_splits = {"train": train, "val": val, "test": test, **(splits or {})}
        described = {
            split: self._describe_split(split, value)
            for split, value in all_splits.items()
            if value is not None
        }
        first = next(iter(described.values()), None)
        features_list = [str(f) for f in features] if features is not None else None
        if features_list is None and first is not None and "columns" in first.details:
            features_list = list(first.details["columns"])
        num_classes = None
        for split in described.values():
            if split.class_counts:
                num_classes = max(num_classes or 0, len(split.class_counts))
        if class_names is not None:
            num_classes = len(class_names)
        self.record = DataRecord(
            name=name,
            splits=described,
            features=features_list,
            num_classes=num_classes,
            class_names=[str(c) for c in class_names] if class_names is not None else None,
            image=image_geometry(first.x_shape) if first is not None else None,
            augmentations=self._describe_augmentations(augmentations),
            preprocessing=list(preprocessing or []),
            fingerprint=combine_fingerprints(
                f"{k}:{v.fingerprint}" for k, v in sorted(described.items())
            ),
        )

    def _describe_split(self, name: str, value: Any) -> SplitRecord:
        x, y = _split_parts(value)
        record = self._hooks.modelboard_describe_split(name=name, x=x, y=y)
        if record is None and y is None:
            record = describe_batches(name, x)
        if record is None:
            raise TypeError(
                f"mb.Data cannot describe split {name!r} of type "
                f"{type(x).__module__}.{type(x).__qualname__}: pass numpy arrays, a pandas "
                "DataFrame, tensors, a tf.data.Dataset, a torch DataLoader or a Keras "
                "PyDataset, as (x, y) or x"
            )
        for field_name, reason in record.unknown.items():  # once, when the data is described
            log.warning("modelboard: split %r: %s is unknown: %s", name, field_name, reason)
        return record

    def _describe_augmentations(self, augmentations: Any) -> list[AugmentationRecord]:
        if augmentations is None:
            return []
        items = augmentations if isinstance(augmentations, list) else [augmentations]
        out: list[AugmentationRecord] = []
        for item in items:
            described = self._hooks.modelboard_describe_augmentations(obj=item)
            if described is None:
                raise TypeError(
                    f"no adapter describes augmentations of type {type(item).__qualname__}; "
                    "pass an ImageDataGenerator, a torchvision transform, a dict of settings, "
                    "or an mb.records.AugmentationRecord"
                )
            out.extend(described)
        return out

    @property
    def name(self) -> str:
        """The data set's name."""
        return self.record.name

    def __repr__(self) -> str:
        splits = ", ".join(f"{k}={v.x_shape}" for k, v in self.record.splits.items())
        return f"Data({self.record.name!r}, {splits})"


def _as_array(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    module = type(value).__module__
    if module.startswith("pandas"):
        return np.asarray(value.to_numpy())
    if isinstance(value, (np.ndarray, list, tuple)) or np.isscalar(value):
        return np.asarray(value)
    if hasattr(value, "__array__"):
        return np.asarray(value)
    return None


def rows(value: Any) -> int | None:
    """The number of rows (first dimension) of an array, tensor, DataFrame, list or dict of
    equal-length inputs; ``None`` when it has none or it cannot be told."""
    if isinstance(value, dict):
        counts = {rows(v) for v in value.values()} - {None}
        return counts.pop() if len(counts) == 1 else None
    shape = getattr(value, "shape", None)
    if shape is not None:
        try:
            dims = tuple(shape)
        except TypeError:
            return None
        return int(dims[0]) if dims and dims[0] is not None else None
    if isinstance(value, (list, tuple)):
        return len(value)
    return None


def class_counts(y: np.ndarray) -> dict[str, int] | None:
    """Counts per class for integer/string labels or one-hot rows; ``None`` for regression."""
    if y.ndim == 2 and y.shape[1] > 1:
        if y.size and np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
            y = y.argmax(axis=1)
        else:
            return None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        return None
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(np.mod(y, 1) == 0):
            return None
        y = y.astype(np.int64)
    if y.dtype.kind not in "iubUSO":
        return None
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) > _MAX_CLASSES:
        return None
    pairs = zip(labels.tolist(), counts.tolist(), strict=True)
    return {str(label): int(count) for label, count in pairs}


def describe_arrays(
    name: str, x: Any, y: Any = None, source: str | None = None
) -> SplitRecord | None:
    """Describe one split given as arrays (numpy, lists, pandas, anything with ``__array__``):
    shapes, dtypes, size, a content fingerprint and class counts. ``None`` for other data.

    Adapters call it after turning their tensors into numpy; ``source`` names where the arrays
    came from (``tensor``, ``keras.ImageDataGenerator``...), else ``array`` or ``dataframe``.
    """
    x_arr = _as_array(x)
    if x_arr is None:
        return None
    y_arr = _as_array(y)
    if y is not None and y_arr is None:
        return None
    if y_arr is not None and x_arr.ndim and y_arr.ndim and x_arr.shape[0] != y_arr.shape[0]:
        raise ValueError(
            f"split {name!r}: x has {x_arr.shape[0]} rows but y has {y_arr.shape[0]}; give "
            "one label per input row"
        )
    if source is None:
        source = "dataframe" if type(x).__module__.startswith("pandas") else "array"
    fingerprint = fingerprint_array(x_arr)
    if y_arr is not None:
        fingerprint = fingerprint + fingerprint_array(y_arr)[:16]
    details: dict[str, Any] = {}
    if source == "dataframe" and hasattr(x, "columns"):
        details["columns"] = [str(c) for c in x.columns]
    return SplitRecord(
        name=name,
        source=source,
        size=int(x_arr.shape[0]) if x_arr.ndim else 1,
        x_shape=list(x_arr.shape),
        y_shape=list(y_arr.shape) if y_arr is not None else None,
        x_dtype=str(x_arr.dtype),
        y_dtype=str(y_arr.dtype) if y_arr is not None else None,
        fingerprint=fingerprint,
        class_counts=class_counts(y_arr) if y_arr is not None else None,
        details=details,
    )


def _from_keras(value: Any) -> bool:
    return any(
        (getattr(cls, "__module__", "") or "").split(".")[0] == "keras"
        for cls in type(value).__mro__
    )


def describe_batches(name: str, batches: Any) -> SplitRecord | None:
    """Describe a Keras ``PyDataset`` (a sequence of ``(x, y)`` batches read by index, told by
    its class's module, without importing Keras); ``None`` for other data.

    ``steps_per_epoch`` is ``len()`` (``num_batches``; ``None`` when infinite), ``batch_size``
    the object's ``batch_size`` attribute when it has one and the first batch has that many
    rows. The first batch is read for shapes and dtypes, and the last one for ``size``
    (``batch_size * (len - 1)`` plus the last batch's rows); without a batch size the size
    stays empty, with the reason in ``unknown``.
    """
    from modelboard.loaders import batch_to_numpy, is_loader, split_batch

    if not _from_keras(batches) or not is_loader(batches) or not hasattr(batches, "__getitem__"):
        return None
    unknown: dict[str, str] = {}
    steps: int | None
    try:
        steps = batches.num_batches if hasattr(batches, "num_batches") else len(batches)
    except NotImplementedError:
        steps = None
    if steps is None:
        unknown["steps_per_epoch"] = "the sequence of batches is infinite (num_batches is None)"
    batch_size = getattr(batches, "batch_size", None)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool):
        batch_size = None
        unknown["batch_size"] = (
            f"the {type(batches).__qualname__} has no integer batch_size attribute"
        )
    x_shape: list[int | None] | None = None
    y_shape: list[int | None] | None = None
    x_dtype = y_dtype = None
    size: int | None = None
    if steps:
        x0, y0 = split_batch(batches[0])
        x0_arr = batch_to_numpy(x0) if not isinstance(x0, dict) else None
        y0_arr = batch_to_numpy(y0) if y0 is not None and not isinstance(y0, dict) else None
        first_rows = rows(x0)
        full = steps > 1 and first_rows is not None
        if batch_size is not None and full and first_rows != batch_size:
            unknown["batch_size"] = (
                f"the batch_size attribute ({batch_size}) differs from the first batch's "
                f"{first_rows} rows"
            )
            batch_size = None
        if batch_size is not None and steps > 1:
            last_x, _ = split_batch(batches[steps - 1])
            last_rows = rows(last_x)
            if last_rows is not None:
                size = batch_size * (steps - 1) + last_rows
        elif steps == 1:
            size = first_rows
        if x0_arr is not None and x0_arr.ndim:
            x_shape, x_dtype = [size, *x0_arr.shape[1:]], str(x0_arr.dtype)
        if y0_arr is not None and y0_arr.ndim:
            y_shape, y_dtype = [size, *y0_arr.shape[1:]], str(y0_arr.dtype)
    if size is None:
        unknown["size"] = (
            "infinite"
            if steps is None
            else "the number of samples is known only by reading every batch"
        )
    return SplitRecord(
        name=name,
        source="keras.PyDataset",
        size=size,
        x_shape=x_shape,
        y_shape=y_shape,
        x_dtype=x_dtype,
        y_dtype=y_dtype,
        details={
            "type": type(batches).__qualname__,
            "fingerprint": "unavailable: the batches are computed, not stored",
        },
        batch_size=batch_size,
        steps_per_epoch=steps,
        unknown=unknown,
    )


def _data_record(data: Any) -> DataRecord:
    record = getattr(data, "record", data)
    if not isinstance(record, DataRecord):
        raise TypeError(f"expected mb.Data or a DataRecord, got {type(data).__qualname__}")
    return record


def training_facts(data: Any) -> dict[str, int]:
    """``{"batch_size": ..., "steps_per_epoch": ...}`` of the ``train`` split of ``mb.Data`` (or
    its ``DataRecord``), with only the values the data knows; ``{}`` without a train split."""
    split = _data_record(data).splits.get("train")
    if split is None:
        return {}
    values = {name: getattr(split, name) for name in TRAINING_FIELDS}
    return {name: value for name, value in values.items() if value is not None}


def training_unknowns(data: Any) -> dict[str, str]:
    """Why each of ``training_facts``' fields is missing, when the ``train`` split says why
    (``{field: reason}``, as in ``NetworkRecord.unknown``)."""
    split = _data_record(data).splits.get("train")
    if split is None:
        return {}
    return {
        name: f"train split: {split.unknown[name]}"
        for name in TRAINING_FIELDS
        if name in split.unknown and getattr(split, name) is None
    }
