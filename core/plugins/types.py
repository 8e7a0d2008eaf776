"""Small value types that hooks return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["FrameworkInfo", "ModelOutputs", "TrainingHandle"]


@dataclass(frozen=True)
class FrameworkInfo:
    """The answer of ``modelboard_detect_framework``: which framework, which version."""

    name: str
    version: str | None = None


@dataclass(frozen=True)
class ModelOutputs:
    """The answer of ``modelboard_predict``: what the model produced, and what the adapter knows.

    ``outputs`` is a numpy array (a list of them for several outputs). ``from_logits`` is
    ``True`` when the outputs are logits (the compiled loss or ``track(output="logits")`` says
    so), ``False`` when they must be used as they are, ``None`` when unknown.
    ``last_activation`` is the final layer's activation (``softmax``, ``sigmoid``,
    ``log_softmax``, ``linear``) when the adapter can see it. The core decides the rest
    (``modelboard.probabilities``).
    """

    outputs: Any
    from_logits: bool | None = None
    last_activation: str | None = None


@runtime_checkable
class TrainingHandle(Protocol):
    """What ``modelboard_attach_training`` returns: something that undoes the attachment."""

    def detach(self) -> None:
        """Remove every hook, callback and wrapper the adapter added. Safe to call twice."""
