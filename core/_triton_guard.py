"""Make ``import triton`` safe in a process that already imported TensorFlow.

TensorFlow >= 2.20 from PyPI loads its LLVM with ``RTLD_GLOBAL``; triton's native library
(loaded by torch at the first optimizer, by torchvision at import, by ``torch.compile``) then
binds to TensorFlow's LLVM symbols and the process dies with SIGSEGV (tensorflow#124205).
Loading triton with ``RTLD_DEEPBIND`` makes it resolve its own symbols first. ``import
modelboard`` installs a finder that does only that, only for ``triton`` and only while
``tensorflow`` is in ``sys.modules``: a process that never loads both pays one dictionary
lookup per new top-level import, and imports no framework.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
from types import ModuleType
from typing import Any

__all__ = ["install", "installed"]

_lock = threading.Lock()


class _DeepBindLoader(importlib.abc.Loader):
    """Runs the real loader of ``triton`` with ``RTLD_DEEPBIND`` added to the dlopen flags, so
    every native library its import loads binds to its own symbols first."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        flags = sys.getdlopenflags()
        sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
        try:
            self._loader.exec_module(module)
        finally:
            sys.setdlopenflags(flags)

    def __getattr__(self, name: str) -> Any:  # resource readers and the like
        return getattr(self._loader, name)


class TritonAfterTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``triton`` with the other finders and wraps its loader while TensorFlow is loaded."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "triton" or "tensorflow" not in sys.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _DeepBindLoader(spec.loader)
                return spec
        return None


def installed() -> bool:
    """True when the finder is on ``sys.meta_path``."""
    return any(isinstance(f, TritonAfterTensorFlowFinder) for f in sys.meta_path)


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once; Linux only, where the crash is)."""
    if not hasattr(os, "RTLD_DEEPBIND") or not hasattr(sys, "setdlopenflags"):
        return
    with _lock:
        if not installed():
            sys.meta_path.insert(0, TritonAfterTensorFlowFinder())
