"""PyTorch adapter hooks."""

from __future__ import annotations

import sys
from typing import Any

from modelboard.plugins import FrameworkInfo, hookimpl

__all__ = ["modelboard_detect_framework"]


@hookimpl
def modelboard_detect_framework(obj: Any) -> FrameworkInfo | None:
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(obj, torch.nn.Module):
        return None
    return FrameworkInfo("torch", torch.__version__)
