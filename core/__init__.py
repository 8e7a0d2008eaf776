"""modelboard: record how every Keras and PyTorch model was built, fed and scored, with one call.

>>> import modelboard as mb
>>> tracker = mb.Tracker()                       # doctest: +SKIP
>>> run = tracker.track(model, name="basic_cnn")  # doctest: +SKIP

Public names load on first use, so ``import modelboard`` stays fast and imports no framework.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelboard._triton_guard import install as _install_triton_guard
from modelboard._version import __version__

_install_triton_guard()  # import triton after TensorFlow without a crash (tensorflow#124205)

if TYPE_CHECKING:
    from modelboard.data import Data
    from modelboard.errors import (
        AmbiguousRunIdError,
        ArtifactPathError,
        ModelboardError,
        PluginLoadError,
        ReproduceError,
        RunFinishedError,
        RunNotFoundError,
        StoreUnavailableError,
        StoreVersionError,
        UnsupportedModelError,
    )
    from modelboard.experiments import TrialPruned, search
    from modelboard.init_args import record_init
    from modelboard.plugins import create_plugin_manager, get_plugin_manager, hookimpl
    from modelboard.reproduce import reproduce
    from modelboard.tracking import Run, StoredRun, Tracker

__all__ = [
    "__version__",
    "Tracker",
    "Run",
    "StoredRun",
    "Data",
    "reproduce",
    "record_init",
    "get_plugin_manager",
    "create_plugin_manager",
    "hookimpl",
    "ModelboardError",
    "UnsupportedModelError",
    "StoreVersionError",
    "StoreUnavailableError",
    "RunNotFoundError",
    "AmbiguousRunIdError",
    "PluginLoadError",
    "RunFinishedError",
    "ArtifactPathError",
    "ReproduceError",
    "search",
    "TrialPruned",
]

_LAZY = {
    "Tracker": "modelboard.tracking",
    "Run": "modelboard.tracking",
    "StoredRun": "modelboard.tracking",
    "Data": "modelboard.data",
    "reproduce": "modelboard.reproduce",
    "record_init": "modelboard.init_args",
    "get_plugin_manager": "modelboard.plugins",
    "create_plugin_manager": "modelboard.plugins",
    "hookimpl": "modelboard.plugins",
    "ModelboardError": "modelboard.errors",
    "UnsupportedModelError": "modelboard.errors",
    "StoreVersionError": "modelboard.errors",
    "StoreUnavailableError": "modelboard.errors",
    "RunNotFoundError": "modelboard.errors",
    "AmbiguousRunIdError": "modelboard.errors",
    "PluginLoadError": "modelboard.errors",
    "RunFinishedError": "modelboard.errors",
    "ArtifactPathError": "modelboard.errors",
    "ReproduceError": "modelboard.errors",
    "search": "modelboard.experiments",
    "TrialPruned": "modelboard.experiments",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelboard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
