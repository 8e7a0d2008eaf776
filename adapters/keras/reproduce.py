"""Rebuild an untrained, uncompiled Keras model from a stored ``NetworkRecord``."""

from __future__ import annotations

import importlib
from typing import Any

from modelboard.records import NetworkRecord

__all__ = ["rebuild"]


def _custom_objects(network: NetworkRecord) -> dict[str, Any]:
    """The user's model class, importable from its module (subclassed models)."""
    location = (network.reproduce or {}).get("class") or ""
    module_name, _, qualname = location.partition(":")
    if not module_name or module_name.startswith("keras") or not qualname:
        return {}
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return {}
    return {qualname.rsplit(".", 1)[-1]: found}


def rebuild(network: NetworkRecord) -> Any:
    """A new Keras model with the recorded config (fresh weights, not compiled)."""
    if network.model_config is None:
        reason = (network.reproduce or {}).get("error", "no serialised config was recorded")
        raise ValueError(
            f"cannot rebuild Keras model {network.architecture!r}: {reason}. Give the model a "
            "get_config() (and register it with @keras.saving.register_keras_serializable())"
        )
    import keras

    config = {k: v for k, v in network.model_config.items() if k != "compile_config"}
    return keras.saving.deserialize_keras_object(
        config, custom_objects=_custom_objects(network), safe_mode=True
    )
