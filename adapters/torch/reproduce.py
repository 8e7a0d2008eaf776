"""Reproduction: what is needed to rebuild a module (import path, constructor arguments, source)
and the rebuild itself.

Constructor arguments come, in this order, from ``track(..., init_args={...})``, or from the
attributes of the module that carry the names of its ``__init__`` parameters (``nn.Conv2d``
keeps ``in_channels``, ``kernel_size``...; a user's class does when it stores them). A bool
parameter whose attribute is a tensor or ``None`` (``bias``) is read as "present". Containers
(``Sequential``, ``ModuleList``, ``ModuleDict``) are rebuilt from their children's specs.
``track(..., factory=fn)`` (a function or its ``"pkg.mod:fn"`` path, e.g.
``torchvision.models.resnet18``) names a builder that is called with ``init_args`` instead.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import plain_value

if TYPE_CHECKING:
    import torch

    from modelboard.records import NetworkRecord

__all__ = ["captured_init_args", "module_spec", "reproduce_info", "rebuild"]

_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
_MAX_SOURCE_CHARS = 100_000
_SIMPLE = (bool, int, float, str, type(None))


def _is_simple(value: Any) -> bool:
    if isinstance(value, _SIMPLE):
        return True
    if isinstance(value, (tuple, list)):
        return all(_is_simple(v) for v in value)
    return False


def captured_init_args(module: torch.nn.Module) -> tuple[dict[str, Any], list[str]]:
    """Constructor arguments read back from attributes, and the required ones not found."""
    import torch

    try:
        params = inspect.signature(type(module).__init__).parameters
    except (TypeError, ValueError):
        return {}, []
    args: dict[str, Any] = {}
    missing: list[str] = []
    for name, param in list(params.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in ("device", "dtype"):
            continue
        found = False
        for attr in (name, f"_{name}"):
            try:
                value = getattr(module, attr)
            except AttributeError:
                continue
            if isinstance(param.default, bool) and (
                value is None or isinstance(value, torch.Tensor)
            ):
                args[name] = value is not None
                found = True
                break
            if _is_simple(value):
                args[name] = plain_value(value)
                found = True
                break
        if not found and param.default is param.empty:
            missing.append(name)
    return args, missing


def _class_path(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def module_spec(module: torch.nn.Module, depth: int = 0) -> dict[str, Any]:
    """A rebuildable description: class path and arguments, children for containers."""
    cls = type(module)
    spec: dict[str, Any] = {"class": _class_path(cls)}
    if cls.__name__ in _CONTAINERS and depth < 8:
        children = {name: module_spec(child, depth + 1) for name, child in module.named_children()}
        spec["children"] = children
        spec["missing"] = sorted({m for c in children.values() for m in c.get("missing", [])})
        return spec
    args, missing = captured_init_args(module)
    spec["args"] = args
    spec["missing"] = missing
    return spec


def _source(cls: type) -> str | None:
    try:
        text = inspect.getsource(cls)
    except (OSError, TypeError):
        return None
    return text[:_MAX_SOURCE_CHARS]


def reproduce_info(module: torch.nn.Module, options: dict[str, Any]) -> dict[str, Any]:
    """The ``NetworkRecord.reproduce`` entry for ``module`` (see the module docstring)."""
    cls = type(module)
    factory = options.get("factory")
    if factory is not None and not isinstance(factory, str):
        factory = _class_path(factory)
    user_args = options.get("init_args")
    spec = module_spec(module)
    if factory is not None and user_args is None:
        user_args = {}
    if user_args is not None:
        spec["args"] = plain_value(dict(user_args))
        spec["missing"] = []
        args_from = "user"
    else:
        args_from = "attributes"
    try:
        source_file = inspect.getsourcefile(cls)
    except TypeError:
        source_file = None
    return {
        "framework": "torch",
        "class": _class_path(cls),
        "factory": factory,
        "init_args_from": args_from,
        "spec": spec,
        "rebuildable": factory is not None or not spec.get("missing"),
        "source_file": source_file,
        "source": _source(cls),
    }


def _import(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    if not qualname:
        module_name, _, qualname = path.rpartition(".")
    if "<locals>" in qualname:
        raise ImportError(f"cannot import {path}: a class defined inside a function")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _build(spec: dict[str, Any]) -> Any:
    if spec.get("missing") and "children" not in spec:
        raise ValueError(
            f"cannot rebuild {spec['class']}: constructor arguments {spec['missing']} were not "
            "captured; track(model, init_args={...}) or factory=... records them"
        )
    cls = _import(spec["class"])
    if "children" in spec:
        children = {name: _build(child) for name, child in spec["children"].items()}
        if cls.__name__ == "ModuleDict":
            return cls(children)
        if cls.__name__ == "ModuleList":
            return cls(list(children.values()))
        return cls(*children.values())
    return cls(**spec.get("args", {}))


def rebuild(network: NetworkRecord) -> torch.nn.Module:
    """A new, untrained module from the record's ``reproduce_info`` (``network.reproduce``)."""
    info = network.reproduce
    if info is None:
        raise ValueError(
            "this run's network record holds no rebuild information (reproduce is empty): "
            "track the module with init_args= or factory= to make it reproducible"
        )
    if info.get("factory"):
        factory = _import(info["factory"])
        return factory(**info["spec"].get("args", {}))
    return _build(info["spec"])
