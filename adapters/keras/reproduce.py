"""Rebuild an untrained, uncompiled Keras model from a stored ``NetworkRecord``.

Keras deserialises the recorded config with ``safe_mode=True`` (no lambdas; it imports only
Keras's own packages). What modelboard imports for it, the module of the model's own class
and the modules that the config names for custom layers (so that their
``@keras.saving.register_keras_serializable`` runs), passes the import policy of
``modelboard.reproduce_policy`` first, all of them before any is imported. A class of
``__main__`` is never imported: Keras finds it in this process's registry of serialisable
objects or not at all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from modelboard.errors import ReproduceError
from modelboard.records import NetworkRecord
from modelboard.reproduce_policy import MAIN_MODULE, ImportPolicy, active_policy, split_path

__all__ = ["rebuild", "named_modules"]

_KERAS_PACKAGES = ("keras", "keras_hub", "keras_cv", "keras_nlp")


def _is_keras(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in _KERAS_PACKAGES)


def _config_paths(config: Any, depth: int = 0) -> Iterator[str]:
    """``module:class_name`` of every serialised object in a Keras config that is not Keras's
    own (Keras's marker ``builtins`` for its built-in functions excepted)."""
    if depth > 64:
        return
    if isinstance(config, dict):
        module = config.get("module")
        name = config.get("class_name")
        named = isinstance(module, str) and isinstance(name, str) and not _is_keras(module)
        if named and not (module == "builtins" and name == "function"):
            yield f"{module}:{name}"
        for value in config.values():
            yield from _config_paths(value, depth + 1)
    elif isinstance(config, list):
        for value in config:
            yield from _config_paths(value, depth + 1)


def named_modules(network: NetworkRecord) -> list[str]:
    """The record's class path and every non-Keras path in its config, checked by the policy."""
    paths = []
    location = (network.reproduce or {}).get("class") or ""
    if location:
        module, _ = split_path(location)
        if not _is_keras(module):
            paths.append(location)
    paths += list(_config_paths(network.model_config or {}))
    return list(dict.fromkeys(paths))


def _custom_objects(network: NetworkRecord, paths: list[str]) -> dict[str, Any]:
    """The user's classes, imported from their (allowed) modules; ``__main__`` is not."""
    found_objects: dict[str, Any] = {}
    location = (network.reproduce or {}).get("class") or ""
    for path in paths:
        module_name, qualname = split_path(path)
        if module_name == MAIN_MODULE:
            continue
        try:
            found: Any = importlib.import_module(module_name)
        except ImportError as exc:
            raise ReproduceError(f"cannot import {module_name} to rebuild {path}: {exc}") from exc
        if path != location:
            continue  # imported so that its classes register themselves with Keras
        try:
            for part in qualname.split("."):
                found = getattr(found, part)
        except AttributeError:
            continue
        found_objects[qualname.rsplit(".", 1)[-1]] = found
    return found_objects


def rebuild(network: NetworkRecord, policy: ImportPolicy | None = None) -> Any:
    """A new Keras model with the recorded config (fresh weights, not compiled)."""
    if network.model_config is None:
        reason = (network.reproduce or {}).get("error", "no serialised config was recorded")
        raise ReproduceError(
            f"cannot rebuild Keras model {network.architecture!r}: {reason}. Give the model a "
            "get_config() (and register it with @keras.saving.register_keras_serializable())"
        )
    paths = named_modules(network)
    policy = policy or active_policy()
    # __main__ is never imported here (Keras looks it up in its registry), so it needs no trust
    policy.check(p for p in paths if split_path(p)[0] != MAIN_MODULE)
    import keras

    custom = _custom_objects(network, paths)
    config = {k: v for k, v in network.model_config.items() if k != "compile_config"}
    return keras.saving.deserialize_keras_object(config, custom_objects=custom, safe_mode=True)
