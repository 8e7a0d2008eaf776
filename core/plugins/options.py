"""Declared ``track()`` options: each adapter says which keyword options it takes, with types.

``tracker.track(model, **options)`` checks the options against the declarations of the adapter
that claimed the model (hook ``modelboard_track_options``) before anything is stored: an unknown
name raises ``TypeError`` naming the accepted ones, a value of the wrong kind raises
``TypeError`` saying what was expected. Options that both adapters take are defined once here
(``SHARED_OPTIONS``), so that the same name means the same thing in every framework.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TrackOption",
    "SHARED_OPTIONS",
    "shared",
    "check_track_options",
    "is_count",
    "is_positive_int",
    "is_text",
    "is_flag",
    "is_mapping",
    "anything",
]


@dataclass(frozen=True)
class TrackOption:
    """One keyword option of ``track()``: its name, what it accepts (in words, for the error
    message), what it means, and the check that accepts a value (``None`` is always allowed
    and means "not given": the adapter's documented default)."""

    name: str
    expects: str
    doc: str
    check: Callable[[Any], bool]


def anything(value: Any) -> bool:
    """Accept any value (objects of a framework that the core does not import)."""
    return True


def is_count(value: Any) -> bool:
    """An integer >= 0 (``bool`` excluded)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        return False
    return int(value) >= 0


def is_positive_int(value: Any) -> bool:
    """An integer >= 1 (``bool`` excluded)."""
    return is_count(value) and int(value) >= 1


def is_text(value: Any) -> bool:
    """A string."""
    return isinstance(value, str)


def is_flag(value: Any) -> bool:
    """``True`` or ``False``."""
    return isinstance(value, bool)


def is_mapping(value: Any) -> bool:
    """A mapping (``dict``) with string keys."""
    return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)


def _is_output_kind(value: Any) -> bool:
    return value in ("logits", "probabilities")


SHARED_OPTIONS: dict[str, TrackOption] = {
    option.name: option
    for option in (
        TrackOption(
            "gradients_every",
            "an int >= 0",
            "capture the training gradients every N optimizer steps; 0 turns capture off; "
            "None (not given) means the default, modelboard.gradients.DEFAULT_GRADIENTS_EVERY",
            is_count,
        ),
        TrackOption(
            "architecture",
            "a str",
            "the architecture name recorded (default: the model's name or class)",
            is_text,
        ),
        TrackOption(
            "batch_size",
            "an int >= 1",
            "the training batch size, recorded when the training loop cannot tell it",
            is_positive_int,
        ),
        TrackOption(
            "epochs",
            "an int >= 0",
            "the epochs planned (epochs_planned), recorded when the training loop cannot tell it",
            is_count,
        ),
        TrackOption(
            "predict_batch_size",
            "an int >= 1",
            "the batch size of run.predict and run.evaluate",
            is_positive_int,
        ),
        TrackOption(
            "output",
            "'logits' or 'probabilities'",
            "what the model returns, when the adapter cannot see it (run.predict converts logits)",
            _is_output_kind,
        ),
        TrackOption(
            "example_input",
            "an input batch (array or tensor, or a tuple/dict of them)",
            "an example input: output shapes, and the operations forward runs",
            anything,
        ),
    )
}
"""Options that mean the same in every adapter."""


def shared(*names: str) -> list[TrackOption]:
    """The shared declarations of ``names`` (an adapter lists the shared options it takes)."""
    return [SHARED_OPTIONS[name] for name in names]


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__qualname__} {text}"


def check_track_options(
    framework: str, declared: Iterable[TrackOption], options: Mapping[str, Any]
) -> None:
    """Raise ``TypeError`` for an option ``framework``'s adapter does not declare, or a value it
    does not accept; return quietly when every option is fine."""
    by_name = {option.name: option for option in declared}
    for name, value in options.items():
        option = by_name.get(name)
        if option is None:
            accepted = ", ".join(sorted(by_name)) or "none"
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"track() got an unknown option {name!r} for a {framework} model.{hint} "
                f"The {framework} adapter takes: {accepted} (see docs/configuration.md)"
            )
        if value is not None and not option.check(value):
            raise TypeError(
                f"track({name}=...) takes {option.expects}, got {_describe(value)}: {option.doc}"
            )
