"""The one rule that turns a model's outputs into class probabilities.

Adapters return what the model produced plus what they know about it
(``modelboard.plugins.ModelOutputs``: ``from_logits``, the last layer's activation); this
module alone decides and converts, with ``scipy.special.softmax`` and ``expit``:

- ``mode="raw"`` (``track(..., output="raw")``) or ``from_logits=False``: the outputs as they are;
- ``from_logits=True`` (``output="logits"``, a loss built with ``from_logits=True``): softmax over
  the last axis for two or more columns, the logistic function for one;
- a last activation of ``softmax`` or ``sigmoid``: already probabilities, unchanged;
  ``log_softmax``: exponentiated;
- nothing known, for ``(N, C)`` with ``C >= 2``: rows in [0, 1] that sum to 1 (within 1e-3) pass
  unchanged, rows of values <= 0 whose exponentials sum to 1 are log-probabilities and are
  exponentiated, anything else is logits and goes through softmax. A single column passes
  unchanged (it may be a regression).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PROBABILITY_ACTIVATIONS", "to_probabilities", "outputs_to_probabilities"]

#: Last-layer activations whose outputs already are probabilities.
PROBABILITY_ACTIVATIONS = frozenset({"softmax", "sigmoid"})
_TOLERANCE = 1e-3


def to_probabilities(
    outputs: Any,
    *,
    from_logits: bool | None = None,
    last_activation: str | None = None,
    mode: str = "auto",
) -> np.ndarray:
    """One output array as probabilities by the rule of this module's docstring."""
    from scipy.special import expit, softmax

    if mode not in ("auto", "logits", "raw"):
        raise ValueError(f"output must be 'auto', 'logits' or 'raw'; got {mode!r}")
    out = np.asarray(outputs)
    if out.dtype.kind not in "fc":
        out = out.astype(np.float64)
    if mode == "raw" or from_logits is False:
        return out
    columns = out.shape[-1] if out.ndim >= 2 else 1
    if mode == "logits" or from_logits:
        return softmax(out, axis=-1) if columns >= 2 else expit(out)
    activation = (last_activation or "").lower()
    if activation in PROBABILITY_ACTIVATIONS:
        return out
    if activation == "log_softmax":
        return np.exp(out)
    if out.ndim != 2 or columns < 2:
        return out
    sums = out.sum(axis=1)
    if bool(((out >= 0) & (out <= 1)).all()) and bool((np.abs(sums - 1) <= _TOLERANCE).all()):
        return out
    if bool((out <= 0).all()):
        exp = np.exp(out)
        if bool((np.abs(exp.sum(axis=1) - 1) <= _TOLERANCE).all()):
            return exp
    return softmax(out, axis=1)


def outputs_to_probabilities(answer: Any, mode: str = "auto") -> Any:
    """What ``modelboard_predict`` answered, as probabilities.

    A ``ModelOutputs`` is converted by what its adapter knew; a plain array (a third-party
    plugin's ``predict_proba``) is read with nothing known. A list (a Keras model with several
    outputs) is converted output by output; a dict is returned as numpy arrays, unconverted.
    """
    from modelboard.plugins.types import ModelOutputs

    known: dict[str, Any] = {}
    outputs = answer
    if isinstance(answer, ModelOutputs):
        outputs = answer.outputs
        known = {"from_logits": answer.from_logits, "last_activation": answer.last_activation}
    if isinstance(outputs, dict):
        return {key: np.asarray(value) for key, value in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [to_probabilities(o, mode=mode, **known) for o in outputs]
    return to_probabilities(outputs, mode=mode, **known)
