"""The core's own plugin: describes numpy arrays, pandas frames and plain augmentation dicts.

It is registered before the adapters, so pluggy asks it last: adapters get the first word on
their frameworks' objects and this plugin answers for what is left.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

import numpy as np
from modelboard.fingerprint import fingerprint_array
from modelboard.plugins.markers import hookimpl
from modelboard.records import AugmentationRecord, SplitRecord

_MAX_CLASSES = 1000
_CORE_PACKAGES = ("modelboard", "numpy", "pandas", "scikit-learn", "pluggy", "sqlalchemy")


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


@hookimpl(trylast=True)
def modelboard_describe_split(name: str, x: Any, y: Any) -> SplitRecord | None:
    x_arr = _as_array(x)
    if x_arr is None:
        return None
    y_arr = _as_array(y)
    if y is not None and y_arr is None:
        return None
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


@hookimpl(trylast=True)
def modelboard_describe_augmentations(obj: Any) -> list[AugmentationRecord] | None:
    if isinstance(obj, dict):
        return [AugmentationRecord(source="user", type="params", params=dict(obj))]
    if isinstance(obj, AugmentationRecord):
        return [obj]
    return None


@hookimpl
def modelboard_environment() -> dict[str, Any]:
    versions = {}
    for package in _CORE_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": versions,
    }
