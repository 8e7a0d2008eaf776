"""Predictions of a Keras model for evaluation: class probabilities as numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["predict_probabilities", "outputs_are_logits"]


def outputs_are_logits(model: Any) -> bool:
    """True when the compiled loss says the model outputs logits (``from_logits=True``)."""
    loss = getattr(model, "loss", None)
    losses: Any = list(loss.values()) if isinstance(loss, dict) else loss
    for item in losses if isinstance(losses, (list, tuple)) else [losses]:
        config = item.get_config() if hasattr(item, "get_config") else {}
        if isinstance(config, dict) and config.get("from_logits"):
            return True
    return False


def _to_probabilities(logits: np.ndarray) -> np.ndarray:
    if logits.ndim >= 2 and logits.shape[-1] > 1:
        shifted = logits - logits.max(axis=-1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=-1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-logits))


def predict_probabilities(model: Any, x: Any, options: dict[str, Any]) -> Any:
    """``model.predict(x)`` as numpy; logits become probabilities (softmax or sigmoid).

    ``options``: ``batch_size``; ``from_logits`` overrides what the compiled loss says.
    """
    batch_size = options.get("batch_size")
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    from_logits = options.get("from_logits")
    if from_logits is None:
        from_logits = outputs_are_logits(model)
    if isinstance(outputs, (list, tuple)):
        arrays = [np.asarray(o) for o in outputs]
        return [_to_probabilities(a) if from_logits else a for a in arrays]
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    array = np.asarray(outputs)
    return _to_probabilities(array) if from_logits else array
