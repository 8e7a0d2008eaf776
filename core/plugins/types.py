"""Small value types that hooks return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["FrameworkInfo", "TrainingHandle"]


@dataclass(frozen=True)
class FrameworkInfo:
    """The answer of ``modelboard_detect_framework``: which framework, which version."""

    name: str
    version: str | None = None


@runtime_checkable
class TrainingHandle(Protocol):
    """What ``modelboard_attach_training`` returns: something that undoes the attachment."""

    def detach(self) -> None:
        """Remove every hook, callback and wrapper the adapter added. Safe to call twice."""
