"""The core's own plugin: describes numpy arrays, pandas frames and plain augmentation dicts.

It is registered before the adapters, so pluggy asks it last: adapters get the first word on
their frameworks' objects and this plugin answers for what is left.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

from modelboard.data import describe_arrays
from modelboard.plugins.markers import hookimpl
from modelboard.records import AugmentationRecord, SplitRecord

_CORE_PACKAGES = ("modelboard", "numpy", "pandas", "scikit-learn", "pluggy", "sqlalchemy")


@hookimpl(trylast=True)
def modelboard_describe_split(name: str, x: Any, y: Any) -> SplitRecord | None:
    return describe_arrays(name, x, y)


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
