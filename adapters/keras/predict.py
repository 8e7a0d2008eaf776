"""Predictions of a Keras model for evaluation: its raw outputs, with what the model says
about them (a loss built with ``from_logits=True``, the last layer's activation). The core turns
them into probabilities (``modelboard.probabilities``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelboard.plugins.types import ModelOutputs

__all__ = ["predict_probabilities", "outputs_are_logits", "last_activation"]


def outputs_are_logits(model: Any) -> bool:
    """True when the compiled loss says the model outputs logits (``from_logits=True``)."""
    loss = getattr(model, "loss", None)
    losses: Any = list(loss.values()) if isinstance(loss, dict) else loss
    for item in losses if isinstance(losses, (list, tuple)) else [losses]:
        config = item.get_config() if hasattr(item, "get_config") else {}
        if isinstance(config, dict) and config.get("from_logits"):
            return True
    return False


def last_activation(model: Any) -> str | None:
    """The activation of the model's last layer (``softmax``, ``linear``...), if it has one."""
    layers = getattr(model, "layers", None) or []
    if not layers:
        return None
    layer = layers[-1]
    activation = getattr(layer, "activation", None)
    if activation is not None:
        return str(getattr(activation, "__name__", activation))
    name = type(layer).__name__.lower()
    return name if name in ("softmax", "sigmoid") else None


_FROM_LOGITS = {"logits": True, "probabilities": False, "raw": False}


def _from_logits_option(options: dict[str, Any]) -> bool | None:
    """What the options say the model returns: ``output="logits" | "probabilities"``, or
    Keras's own ``from_logits=`` (an alias kept for callers of ``run.predict(x,
    from_logits=False)``); ``None`` when they say nothing."""
    output = options.get("output")
    if output is not None and output in _FROM_LOGITS:
        return _FROM_LOGITS[output]
    from_logits = options.get("from_logits")
    return None if from_logits is None else bool(from_logits)


def predict_probabilities(model: Any, x: Any, options: dict[str, Any]) -> ModelOutputs:
    """``model.predict(x)`` in batches of ``options["predict_batch_size"]`` (Keras's default
    when unset) as numpy, with ``from_logits`` (``output=`` or ``from_logits=`` in ``options``,
    else the compiled loss: ``True`` for a logits loss, ``False`` for another compiled loss,
    unknown when uncompiled)."""
    outputs = model.predict(x, batch_size=options.get("predict_batch_size"), verbose=0)
    from_logits = _from_logits_option(options)
    if from_logits is None and getattr(model, "compiled", False):
        from_logits = outputs_are_logits(model)
    if isinstance(outputs, (list, tuple)):
        raw: Any = [np.asarray(o) for o in outputs]
    elif isinstance(outputs, dict):
        raw = {k: np.asarray(v) for k, v in outputs.items()}
    else:
        raw = np.asarray(outputs)
    return ModelOutputs(raw, from_logits=from_logits, last_activation=last_activation(model))
