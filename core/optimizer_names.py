"""The canonical optimizer vocabulary: one lower-case name for the same algorithm in every
framework, so that ``optimizer in ('adam', 'sgd')`` selects Keras and PyTorch runs alike.

``canonical_optimizer("Adam")`` and ``canonical_optimizer("adam")`` are ``adam``; PyTorch's
``SGD`` and Keras's ``SGD`` are ``sgd``. A class this table does not know keeps its class name in
lower case (``lion``, ``mycustomoptimizer``): still one spelling per class, never a guess.
"""

from __future__ import annotations

__all__ = ["canonical_optimizer", "OPTIMIZER_NAMES"]

OPTIMIZER_NAMES: dict[str, str] = {
    "adam": "adam",
    "adamw": "adamw",
    "adamax": "adamax",
    "nadam": "nadam",
    "radam": "radam",
    "sgd": "sgd",
    "rmsprop": "rmsprop",
    "adagrad": "adagrad",
    "adadelta": "adadelta",
    "adafactor": "adafactor",
    "ftrl": "ftrl",
    "lion": "lion",
    "lamb": "lamb",
    "lbfgs": "lbfgs",
    "asgd": "asgd",
    "rprop": "rprop",
    "sparseadam": "sparse_adam",
    "lossscaleoptimizer": "loss_scale",
}
"""Lower-cased class names (underscores removed) to canonical names."""


def canonical_optimizer(class_name: str) -> str:
    """The canonical lower-case name of an optimizer class name (see the module docstring)."""
    key = class_name.lower().replace("_", "")
    return OPTIMIZER_NAMES.get(key, class_name.lower())
