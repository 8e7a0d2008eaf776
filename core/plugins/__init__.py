"""The plugin system: pluggy hookspecs, markers and the manager that loads adapters."""

from modelboard.plugins.manager import (
    AUTOLOAD_ENV,
    BLOCK_ENV,
    ENTRY_POINT_GROUP,
    adapter_names,
    create_plugin_manager,
    get_plugin_manager,
)
from modelboard.plugins.markers import PROJECT_NAME, hookimpl, hookspec
from modelboard.plugins.types import FrameworkInfo, ModelOutputs, TrainingHandle

__all__ = [
    "AUTOLOAD_ENV",
    "BLOCK_ENV",
    "ENTRY_POINT_GROUP",
    "PROJECT_NAME",
    "FrameworkInfo",
    "ModelOutputs",
    "TrainingHandle",
    "adapter_names",
    "create_plugin_manager",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
]
