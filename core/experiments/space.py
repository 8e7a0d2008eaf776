"""The search space: trials drawn with scikit-learn, and a description the store can keep.

A space is a dict of parameter name to a list of values or a scipy distribution (anything with
``rvs``), as ``sklearn.model_selection.ParameterSampler`` takes; ``strategy="grid"`` takes lists
only (``ParameterGrid``). A list of such dicts is also accepted. The same ``seed`` draws the same
trials, in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Space", "STRATEGIES", "draw_trials", "describe_space", "plain_value"]

Space = Mapping[str, Any] | Sequence[Mapping[str, Any]]
STRATEGIES = ("random", "grid")


def plain_value(value: Any) -> Any:
    """``value`` as a JSON value: numpy scalars become Python numbers, tuples lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        return plain_value(item())
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain_value(v) for k, v in value.items()}
    raise TypeError(
        f"search parameters must be numbers, strings, booleans, None or lists of them; got "
        f"{type(value).__name__} {value!r}: put the name of the choice in the space and build "
        "the object inside train_fn"
    )


def _spaces(space: Space) -> list[Mapping[str, Any]]:
    spaces = [space] if isinstance(space, Mapping) else list(space)
    if not spaces or not all(isinstance(s, Mapping) and s for s in spaces):
        raise ValueError(
            "space must be a non-empty dict of parameter name to a list of values or a scipy "
            "distribution, e.g. {'learning_rate': scipy.stats.loguniform(1e-4, 1e-1), "
            "'optimizer': ['adam', 'sgd']} (or a list of such dicts)"
        )
    for one in spaces:
        for name, choices in one.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"space names must be non-empty strings; got {name!r}")
            if hasattr(choices, "rvs"):
                continue
            if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
                raise ValueError(
                    f"space[{name!r}] must be a list of values or a scipy distribution; got "
                    f"{choices!r} (write [{choices!r}] for a single value)"
                )
            if len(choices) == 0:
                raise ValueError(f"space[{name!r}] is an empty list: give at least one value")
    return spaces


def draw_trials(
    space: Space, strategy: str, n_trials: int | None, seed: int | None
) -> list[dict[str, Any]]:
    """The parameters of each trial, in order (``n_trials`` of them; grid: all, or the first
    ``n_trials``)."""
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    spaces = _spaces(space)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    if n_trials is not None and (isinstance(n_trials, bool) or int(n_trials) != n_trials):
        raise ValueError(f"n_trials must be a whole number; got {n_trials!r}")
    if strategy == "grid":
        for one in spaces:
            for name, choices in one.items():
                if hasattr(choices, "rvs"):
                    raise ValueError(
                        f"strategy='grid' needs lists of values; space[{name!r}] is a "
                        "distribution: use strategy='random' or list the values"
                    )
        drawn = list(ParameterGrid(list(spaces)))
        if n_trials is not None:
            drawn = drawn[: int(n_trials)]
    else:
        if n_trials is None or int(n_trials) < 1:
            raise ValueError(f"strategy='random' needs n_trials >= 1; got {n_trials!r}")
        drawn = list(ParameterSampler(list(spaces), n_iter=int(n_trials), random_state=seed))
    if not drawn:
        raise ValueError("the search has no trials: n_trials must be at least 1")
    return [{name: plain_value(v) for name, v in sorted(p.items())} for p in drawn]


def _describe_choices(choices: Any) -> dict[str, Any]:
    if not hasattr(choices, "rvs"):
        return {"type": "choice", "values": plain_value(list(choices))}
    dist = getattr(choices, "dist", None)
    name = getattr(dist, "name", None) or type(choices).__name__
    described: dict[str, Any] = {"type": "distribution", "name": str(name)}
    args = getattr(choices, "args", None)
    kwds = getattr(choices, "kwds", None)
    try:
        if args is not None:
            described["args"] = plain_value(list(args))
        if kwds:
            described["kwargs"] = plain_value(dict(kwds))
    except TypeError:
        described["repr"] = repr(choices)
    try:
        low, high = choices.support()
        described["support"] = [
            None if not math.isfinite(float(low)) else float(low),
            None if not math.isfinite(float(high)) else float(high),
        ]
    except Exception:  # a custom distribution without support(): the name says enough
        pass
    return described


def describe_space(space: Space) -> dict[str, Any] | list[dict[str, Any]]:
    """A JSON description of ``space``: lists as ``{"type": "choice", "values": [...]}``,
    scipy distributions as ``{"type": "distribution", "name": "loguniform", "args": [...]}``."""
    spaces = _spaces(space)
    described = [{name: _describe_choices(c) for name, c in one.items()} for one in spaces]
    return described[0] if isinstance(space, Mapping) else described
