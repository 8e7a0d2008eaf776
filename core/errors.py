"""Every error modelboard raises on purpose; each message says what was wrong and how to fix it."""

from __future__ import annotations

__all__ = [
    "ModelboardError",
    "UnsupportedModelError",
    "StoreVersionError",
    "StoreUnavailableError",
    "RunNotFoundError",
    "AmbiguousRunIdError",
    "PluginLoadError",
    "RunFinishedError",
    "ArtifactPathError",
    "InvalidValueError",
    "StoreWriteError",
    "ReproduceError",
]


class ModelboardError(Exception):
    """Base class of modelboard's own errors."""


class UnsupportedModelError(ModelboardError, TypeError):
    """No installed adapter claims the object handed to ``Tracker.track``."""

    def __init__(self, obj: object, adapters: list[str]) -> None:
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        installed = ", ".join(adapters) if adapters else "none"
        super().__init__(
            f"no modelboard adapter claims an object of type {kind}. "
            f"Installed adapters: {installed}. Track a Keras model or a torch.nn.Module, "
            "use tracker.start_run() to log without a model, or write an adapter plugin "
            "(see CONTRIBUTING.md, 'Writing an adapter')."
        )
        self.obj_type = kind
        self.adapters = adapters


class StoreVersionError(ModelboardError):
    """The store was written by a newer modelboard than the one running."""


class StoreUnavailableError(ModelboardError):
    """The store's database cannot be reached or opened."""


class RunNotFoundError(ModelboardError, KeyError):
    """No run has the given id or id prefix."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "run not found"


class AmbiguousRunIdError(RunNotFoundError):
    """An id prefix matches more than one run."""


class PluginLoadError(ModelboardError, ImportError):
    """An adapter plugin registered through an entry point failed to import."""


class RunFinishedError(ModelboardError, RuntimeError):
    """Something was logged to a run that has already finished."""


class ArtifactPathError(ModelboardError, ValueError):
    """An artifact path or run id that would reach outside the run's artifact folder."""


class InvalidValueError(ModelboardError, ValueError):
    """A value given to ``log``, ``log_params`` or ``set_tags`` cannot be stored as it is."""


class StoreWriteError(ModelboardError):
    """The store could not take a write: it is full, unreachable or refused the values.

    ``refused_values`` is true when the database rejected the values themselves (so trying
    again cannot help) and false when it was unavailable or full (trying later can)."""

    def __init__(self, message: str, *, refused_values: bool = False) -> None:
        super().__init__(message)
        self.refused_values = refused_values


class ReproduceError(ModelboardError):
    """``mb.reproduce`` refused: the record names code it may not import, or the rebuilt model
    differs from the recorded one (signature or parameter count)."""
