"""The optimizers and LR schedulers of a torch training loop, as ``OptimizerRecord``.

``optimizer=`` may be one optimizer, a list or tuple of them, or a dict ``{key: optimizer}``
(:func:`optimizers_from_option`). Each optimizer gets a ``key``: the dict's key; else
``optimizer`` for the only one; else the name of the top-level submodule that owns all its
parameters (``generator``); else ``optimizer_0``, ``optimizer_1``...

``learning_rate`` is the configured initial value: the first param group's ``initial_lr``
(which every torch LR scheduler sets when it is built) when present, else its ``lr`` when the
optimizer was first seen. ``learning_rate_last`` is the first group's ``lr`` now.

Schedulers are given (``scheduler=``, one or a list) or found from the optimizer: every torch
LR scheduler holds ``scheduler.optimizer``, so :func:`find_schedulers` asks the garbage
collector for the optimizer's referrers (``gc.get_referrers``: one pass over the tracked
objects, milliseconds for a training script; done once per optimizer, at detach).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import plain_value
from modelboard.optimizer_names import canonical_optimizer
from modelboard.records import OptimizerRecord

if TYPE_CHECKING:
    import torch

__all__ = [
    "describe_optimizer",
    "describe_scheduler",
    "learning_rates",
    "initial_learning_rate",
    "is_optimizer",
    "is_scheduler",
    "optimizers_from_option",
    "schedulers_from_option",
    "optimizer_key",
    "find_schedulers",
]


def is_optimizer(value: Any) -> bool:
    """Whether ``value`` is a ``torch.optim.Optimizer``."""
    import torch

    return isinstance(value, torch.optim.Optimizer)


def is_scheduler(value: Any) -> bool:
    """Whether ``value`` is a torch LR scheduler (``LRScheduler`` or ``ReduceLROnPlateau``)."""
    from torch.optim import lr_scheduler

    kinds = tuple(
        k
        for k in (getattr(lr_scheduler, n, None) for n in ("LRScheduler", "ReduceLROnPlateau"))
        if isinstance(k, type)
    )
    return isinstance(value, kinds)


def _bad_optimizer(value: Any, where: str) -> TypeError:
    return TypeError(
        f"optimizer={where} must be a torch.optim.Optimizer, a list of them or a dict "
        f"{{key: optimizer}}; got {type(value).__qualname__}. Pass the optimizer object itself, "
        "e.g. track(model, optimizer=torch.optim.Adam(model.parameters()))"
    )


def optimizers_from_option(value: Any) -> list[tuple[str | None, torch.optim.Optimizer]]:
    """``(given key or None, optimizer)`` for ``optimizer=``; a clear ``TypeError`` for anything
    that is not an optimizer (nothing is recorded from a wrong value)."""
    if value is None:
        return []
    if is_optimizer(value):
        return [(None, value)]
    out: list[tuple[str | None, Any]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise TypeError(
                    f"optimizer= dict keys must be non-empty strings (the optimizers' names); "
                    f"got {key!r}"
                )
            if not is_optimizer(item):
                raise _bad_optimizer(item, f"[{key!r}]")
            out.append((key, item))
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for index, item in enumerate(value):
            if not is_optimizer(item):
                raise _bad_optimizer(item, f"[{index}]")
            out.append((None, item))
    else:
        raise _bad_optimizer(value, "")
    if not out:
        raise TypeError("optimizer= is empty; give at least one optimizer, or leave it out")
    if len({id(o) for _, o in out}) != len(out):
        raise TypeError("optimizer= names the same optimizer twice")
    return out


def schedulers_from_option(value: Any) -> list[Any]:
    """The schedulers of ``scheduler=`` (one or a list); a clear ``TypeError`` otherwise."""
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not is_scheduler(item) and not hasattr(item, "optimizer"):
            raise TypeError(
                "scheduler= must be a torch LR scheduler (torch.optim.lr_scheduler.*) or a list "
                f"of them; got {type(item).__qualname__}"
            )
    return items


def optimizer_key(
    optimizer: torch.optim.Optimizer, module: torch.nn.Module | None, index: int, count: int
) -> str:
    """The key of an optimizer without a given one (see the module docstring)."""
    if count == 1:
        return "optimizer"
    if module is not None:
        ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
        owners = [
            name
            for name, child in module.named_children()
            if ids and ids <= {id(p) for p in child.parameters()}
        ]
        if len(owners) == 1:
            return owners[0]
    return f"optimizer_{index}"


def learning_rates(optimizer: torch.optim.Optimizer) -> tuple[Any, ...]:
    """Each param group's current learning rate (cheap: read on every step to see changes)."""
    return tuple(group.get("lr") for group in optimizer.param_groups)


def _number(value: Any) -> float | None:
    import torch

    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def initial_learning_rate(optimizer: torch.optim.Optimizer) -> float | None:
    """The first group's ``initial_lr`` (set by LR schedulers), else its ``lr`` now."""
    if not optimizer.param_groups:
        return None
    group = optimizer.param_groups[0]
    return _number(group.get("initial_lr", group.get("lr")))


def describe_scheduler(scheduler: Any) -> dict[str, Any]:
    """Class, last learning rates and the public state of an LR scheduler."""
    state: dict[str, Any] = {}
    try:
        raw = scheduler.state_dict()
    except Exception:  # a scheduler without state_dict still gets a name
        raw = {}
    for key, value in raw.items():
        if key.startswith("_") or callable(value) or key == "optimizer":
            continue
        state[key] = plain_value(value)
    last_lr = None
    get_last_lr = getattr(scheduler, "get_last_lr", None)
    if callable(get_last_lr):
        try:
            last_lr = plain_value(list(get_last_lr()))
        except Exception:  # before the first step some schedulers have no last lr
            last_lr = None
    return {"name": type(scheduler).__name__, "last_lr": last_lr, "state": state}


def find_schedulers(optimizer: torch.optim.Optimizer) -> list[Any]:
    """The LR schedulers that hold ``optimizer`` (``scheduler.optimizer is optimizer``).

    One ``gc.get_referrers`` pass (it walks the objects the collector tracks): call it once,
    not per step. The referrer is the scheduler itself (Python 3.12+ keeps instance attributes
    inline) or its ``__dict__``, whose owner is then found among that dict's referrers.
    """
    import gc

    found: list[Any] = []

    def keep(candidate: Any) -> None:
        mine = is_scheduler(candidate) and getattr(candidate, "optimizer", None) is optimizer
        if mine and all(candidate is not f for f in found):
            found.append(candidate)

    for holder in gc.get_referrers(optimizer):
        if isinstance(holder, dict) and holder.get("optimizer") is optimizer:
            for owner in gc.get_referrers(holder):
                if getattr(owner, "__dict__", None) is holder:
                    keep(owner)
        else:  # Python 3.12+: an instance's inline attributes refer from the instance itself
            keep(holder)
    return found


def describe_optimizer(
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    *,
    key: str = "optimizer",
    learning_rate: float | None = None,
) -> OptimizerRecord:
    """Canonical name, class, learning rates (initial and last), defaults, every param group's
    hyperparameters and the scheduler(s). ``learning_rate`` is the initial value when known
    from earlier (the lr when tracking began), else :func:`initial_learning_rate`."""
    groups = []
    for group in optimizer.param_groups:
        entry = {k: plain_value(v) for k, v in group.items() if k != "params"}
        entry["num_tensors"] = len(group["params"])
        entry["num_params"] = int(sum(p.numel() for p in group["params"]))
        groups.append(entry)
    first = optimizer.param_groups[0] if optimizer.param_groups else {}
    initial = _number(first.get("initial_lr")) if "initial_lr" in first else learning_rate
    if initial is None:
        initial = initial_learning_rate(optimizer)
    schedulers = scheduler if isinstance(scheduler, list) else [scheduler]
    described = [describe_scheduler(s) for s in schedulers if s is not None]
    if len(described) > 1:
        scheduler_record: dict[str, Any] | None = {
            "name": "+".join(d["name"] for d in described),
            "last_lr": described[-1]["last_lr"],
            "schedulers": described,
        }
    else:
        scheduler_record = described[0] if described else None
    class_name = type(optimizer).__name__
    return OptimizerRecord(
        name=canonical_optimizer(class_name),
        class_name=class_name,
        key=key,
        learning_rate=initial,
        learning_rate_last=_number(first.get("lr")),
        config={k: plain_value(v) for k, v in optimizer.defaults.items()},
        param_groups=groups,
        scheduler=scheduler_record,
    )


def schedulers_of(
    optimizer: torch.optim.Optimizer, given: Sequence[Any], search: bool
) -> list[Any]:
    """The schedulers of ``optimizer``: those of ``given`` that step it, else (``search``) the
    ones :func:`find_schedulers` finds."""
    mine = [s for s in given if getattr(s, "optimizer", None) is optimizer]
    if mine or not search:
        return mine
    return find_schedulers(optimizer)


def keyed_optimizers(
    module: torch.nn.Module, value: Any
) -> list[tuple[str, torch.optim.Optimizer]]:
    """``(key, optimizer)`` for ``optimizer=`` (see the module docstring for the keys)."""
    given = optimizers_from_option(value)
    count = len(given)
    return [
        (key if key is not None else optimizer_key(opt, module, index, count), opt)
        for index, (key, opt) in enumerate(given)
    ]


def optimizer_records(module: torch.nn.Module, options: Mapping[str, Any]) -> list[OptimizerRecord]:
    """One ``OptimizerRecord`` per optimizer of ``options["optimizer"]``, with its schedulers
    (``options["scheduler"]``, else found from the optimizer)."""
    given = schedulers_from_option(options.get("scheduler"))
    records = []
    for key, optimizer in keyed_optimizers(module, options.get("optimizer")):
        schedulers = schedulers_of(optimizer, given, search=not given)
        records.append(describe_optimizer(optimizer, schedulers or None, key=key))
    return records
