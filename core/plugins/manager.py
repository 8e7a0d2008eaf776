"""Creating the plugin manager: hookspecs, the built-in data plugin, and entry-point adapters.

Kill switches, as pytest has them:

- ``MODELBOARD_DISABLE_PLUGIN_AUTOLOAD=1`` loads no plugin from the ``modelboard`` entry points.
- ``MODELBOARD_BLOCK_PLUGINS=torch,keras`` blocks the named plugins (entry-point names).
"""

from __future__ import annotations

import threading
from importlib import metadata

import pluggy

from modelboard import settings
from modelboard.errors import PluginLoadError
from modelboard.plugins import hookspecs
from modelboard.plugins.markers import PROJECT_NAME

__all__ = [
    "ENTRY_POINT_GROUP",
    "AUTOLOAD_ENV",
    "BLOCK_ENV",
    "create_plugin_manager",
    "get_plugin_manager",
    "adapter_names",
]

ENTRY_POINT_GROUP = PROJECT_NAME
AUTOLOAD_ENV = "MODELBOARD_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_ENV = "MODELBOARD_BLOCK_PLUGINS"
_CORE_PLUGIN_NAMES = frozenset({"modelboard.builtin"})

_global_manager: pluggy.PluginManager | None = None
_global_lock = threading.Lock()


def _blocked_from_env() -> list[str]:
    return settings.blocked_plugins()


def _autoload_disabled() -> bool:
    return settings.plugin_autoload_disabled()


def create_plugin_manager(
    *, autoload: bool | None = None, blocked: list[str] | None = None
) -> pluggy.PluginManager:
    """A new manager with the hookspecs, the core's own plugin and (unless stopped) the adapters.

    ``autoload`` and ``blocked`` default to the environment kill switches. A plugin whose module
    fails to import raises ``PluginLoadError`` naming the plugin.
    """
    from modelboard import builtin_plugin

    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(builtin_plugin, name="modelboard.builtin")
    for name in _blocked_from_env() if blocked is None else blocked:
        manager.set_blocked(name)
    if _autoload_disabled() if autoload is None else not autoload:
        return manager
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if manager.is_blocked(entry_point.name) or manager.get_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:
            raise PluginLoadError(
                f"modelboard plugin {entry_point.name!r} ({entry_point.value}) failed to import: "
                f"{type(exc).__name__}: {exc}. Fix or uninstall it, or block it with "
                f"{BLOCK_ENV}={entry_point.name}"
            ) from exc
        manager.register(plugin, name=entry_point.name)
    return manager


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager, created on first use."""
    global _global_manager
    with _global_lock:
        if _global_manager is None:
            _global_manager = create_plugin_manager()
        return _global_manager


def adapter_names(manager: pluggy.PluginManager) -> list[str]:
    """Names of the registered adapter plugins (everything but the core's own)."""
    names = []
    for plugin in manager.get_plugins():
        name = manager.get_name(plugin)
        if name and name not in _CORE_PLUGIN_NAMES:
            names.append(name)
    return sorted(names)
