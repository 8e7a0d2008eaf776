"""Keras adapter hooks."""

from __future__ import annotations

import sys
from typing import Any

from modelboard.plugins import FrameworkInfo, hookimpl

__all__ = ["modelboard_detect_framework"]


def _is_keras_model(obj: Any) -> bool:
    if "keras" not in sys.modules:
        return False
    import keras

    return isinstance(obj, keras.Model)


@hookimpl
def modelboard_detect_framework(obj: Any) -> FrameworkInfo | None:
    if not _is_keras_model(obj):
        return None
    import keras

    return FrameworkInfo("keras", keras.__version__)
