"""The machine, the versions and the date a run of the harness was made on."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from typing import Any

__all__ = ["describe", "load_average", "cpu_model"]

PACKAGES = [
    "modelboard",
    "torch",
    "tensorflow",
    "keras",
    "mlflow",
    "wandb",
    "tensorboard",
    "numpy",
    "sqlalchemy",
]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, where the system has them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * size / 2**30, 1)


def describe(command: str, *, smoke: bool, settings: dict[str, Any]) -> dict[str, Any]:
    """Everything a reader needs to weigh the figures: machine, versions, date, command."""
    load = load_average()
    cpus = os.cpu_count() or 1
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "smoke": smoke,
        "settings": settings,
        "machine": {
            "cpu_count": cpus,
            "cpu_model": cpu_model(),
            "memory_gib": _memory_gib(),
            "platform": platform.platform(),
        },
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in PACKAGES},
        "load_average_start": load,
        # a machine whose load is above a third of its cores is busy with other work
        "under_load": bool(load and load[0] > cpus / 3),
    }
