"""What ``mb.reproduce`` may import: the frameworks, the user's project, and what the user allows.

A stored record names the classes and builders that rebuild a model (``"torch.nn:Linear"``,
``"my_models:LSTMClassifier"``). A store is a file that anyone with write access can edit, so a
record is not trusted: before anything is imported, every module a record names is checked
against an :class:`ImportPolicy`. A module is allowed when

1. it belongs to a framework package, :data:`FRAMEWORK_PACKAGES` (``torch``, ``torchvision``,
   ``keras``, ``tensorflow``, ``modelboard``), or
2. it belongs to a package named in ``allow_modules`` (``"timm"`` allows ``timm`` and
   ``timm.models.vision_transformer``), or
3. it is a module of the user's project: its file, found without importing anything, lies
   under the current working directory, and not under the running interpreter's prefixes
   (``sys.prefix``, ``sys.base_prefix``: the standard library and installed packages, also a
   virtual environment kept inside the project) nor in a ``site-packages`` or
   ``dist-packages`` folder. The working directory of the run as recorded in the store is not
   used: it is as editable as the record.

``__main__`` (a class defined in the training script) is never imported: it is rebuilt from
the source recorded at ``track()`` time, and only with ``trust_source=True``.

Anything else (``os``, ``subprocess``, ``builtins``, an installed package nobody named) raises
``ReproduceError`` naming the module and how to allow it. The adapters also check what they
found before calling it (a torch class must be an ``nn.Module``; see docs/reproduce.md).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from modelboard.errors import ReproduceError

__all__ = [
    "FRAMEWORK_PACKAGES",
    "MAIN_MODULE",
    "ImportPolicy",
    "active_policy",
    "applying",
    "split_path",
]

FRAMEWORK_PACKAGES = ("torch", "torchvision", "keras", "tensorflow", "modelboard")
MAIN_MODULE = "__main__"
_PACKAGE_FOLDERS = ("site-packages", "dist-packages")


def split_path(path: str) -> tuple[str, str]:
    """``"pkg.mod:Qual.name"`` (or ``"pkg.mod.name"``) as ``(module, qualname)``."""
    module, sep, qualname = path.partition(":")
    if not sep:
        module, _, qualname = path.rpartition(".")
    if not module or not qualname:
        raise ReproduceError(
            f"the record names {path!r}, which is not an importable 'module:name' path; the "
            "store may be damaged or edited"
        )
    return module, qualname


def _in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _module_file(name: str) -> str | None:
    """The file of module ``name``, found without importing it or its parent packages."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return getattr(loaded, "__file__", None)
    search: list[str] | None = None
    spec = None
    for part in name.split("."):
        try:
            spec = importlib.machinery.PathFinder.find_spec(part, search)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    if spec is None or spec.origin in (None, "built-in", "frozen", "namespace"):
        return None
    return spec.origin


def _is_under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ImportPolicy:
    """Which modules a rebuild may import (see the module docstring)."""

    allow_modules: tuple[str, ...] = ()
    trust_source: bool = False
    project_root: Path = field(default_factory=lambda: Path(os.getcwd()).resolve())

    @classmethod
    def of(cls, allow_modules: Iterable[str] | None, trust_source: bool) -> ImportPolicy:
        """The policy of one ``mb.reproduce`` call; ``allow_modules`` are package names."""
        names = tuple(allow_modules or ())
        for name in names:
            if not isinstance(name, str) or not name or ":" in name:
                raise TypeError(
                    f"allow_modules takes module or package names such as 'timm', not {name!r}"
                )
        return cls(allow_modules=names, trust_source=bool(trust_source))

    def is_project_module(self, module: str) -> bool:
        """Whether ``module``'s file lies in the project (under the working directory)."""
        found = _module_file(module)
        if found is None:
            return False
        path = Path(found).resolve()
        if not _is_under(path, self.project_root):
            return False
        if any(part in _PACKAGE_FOLDERS for part in path.parts):
            return False
        prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        return not any(_is_under(path, prefix) for prefix in prefixes)

    def reason_refused(self, module: str) -> str | None:
        """``None`` when ``module`` may be imported, else why not."""
        if module == MAIN_MODULE:
            return None if self.trust_source else "it is the training script (__main__)"
        if any(_in_package(module, p) for p in FRAMEWORK_PACKAGES + self.allow_modules):
            return None
        if self.is_project_module(module):
            return None
        return (
            "it is neither a framework module nor a module of this project (a file under "
            f"{self.project_root}, outside site-packages and the standard library)"
        )

    def check(self, paths: Iterable[str]) -> None:
        """Raise ``ReproduceError`` for the first refused module among ``paths``
        (``"module:qualname"``); call it on every path before importing any."""
        for path in paths:
            module, _ = split_path(path)
            reason = self.reason_refused(module)
            if reason is None:
                continue
            if module == MAIN_MODULE:
                raise ReproduceError(
                    f"the record names {path}, a class defined in the training script. It is "
                    "rebuilt by running the script's source recorded at track() time (its "
                    "imports and its class and function definitions). Run only source you "
                    "trust: mb.reproduce(run_id, trust_source=True)"
                )
            top = module.split(".", 1)[0]
            raise ReproduceError(
                f"refusing to import {module!r} (named by the record as {path}): {reason}. "
                "Nothing was imported. If you trust this store and the module, allow it with "
                f"mb.reproduce(run_id, allow_modules=[{top!r}])"
            )


_ACTIVE: ContextVar[ImportPolicy | None] = ContextVar("modelboard_import_policy", default=None)


def active_policy() -> ImportPolicy:
    """The policy of the running ``mb.reproduce`` call; outside one, the strictest (nothing
    allowed beyond the frameworks and the project, no recorded source run)."""
    return _ACTIVE.get() or ImportPolicy()


@contextmanager
def applying(policy: ImportPolicy) -> Iterator[ImportPolicy]:
    """Make ``policy`` the active one while an adapter rebuilds (the hook takes no policy)."""
    token = _ACTIVE.set(policy)
    try:
        yield policy
    finally:
        _ACTIVE.reset(token)
