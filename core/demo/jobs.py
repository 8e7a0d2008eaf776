"""What the demo hands an adapter: the models it offers, and one run to train.

An adapter joins ``modelboard demo`` by implementing the demo hooks of
``modelboard.plugins.hookspecs``: ``modelboard_demo_models`` returns a ``DemoModels``, and
``modelboard_demo_train`` trains one ``DemoJob`` (a grid setting in its framework).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from modelboard.demo.data import DigitsData
from modelboard.demo.grid import Setting

if TYPE_CHECKING:
    from modelboard.tracking import Run, Tracker

__all__ = [
    "GRADIENTS_EVERY",
    "DemoModels",
    "StepProgress",
    "DemoContext",
    "RunPlan",
    "DemoJob",
]

#: Gradient statistics every this many training steps (quick runs have 45 steps an epoch).
GRADIENTS_EVERY = 10

_Prepared = TypeVar("_Prepared")


@dataclass(frozen=True)
class DemoModels:
    """The demo models one adapter can train.

    ``framework`` is the name runs are recorded under (``--frameworks`` takes it), ``models``
    the canonical grid names it builds (``basic_cnn``, ``vgg_cnn``), and ``requirements`` the
    import names its runs need, looked up without importing them.
    """

    framework: str
    models: tuple[str, ...]
    requirements: tuple[str, ...] = ()


class StepProgress(Protocol):
    """What a training loop reports to: one call per training step."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more training steps are done."""


@dataclass
class DemoContext:
    """What every run of one demo shares: the store, the data, the seed and the progress."""

    tracker: Tracker
    data: DigitsData
    seed: int | None
    session: str
    progress: StepProgress
    gradients_every: int = GRADIENTS_EVERY
    #: Each framework's data, prepared once per demo (``DemoJob.prepared``).
    prepared: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunPlan:
    """One run to train: a grid setting in a framework."""

    framework: str
    setting: Setting

    @property
    def label(self) -> str:
        """``keras basic_cnn b32 e5 adam``."""
        return f"{self.framework} {self.setting.label}"

    def steps(self, n_train: int) -> int:
        """Training steps of the whole run (no batch is dropped)."""
        return math.ceil(n_train / self.setting.batch_size) * self.setting.epochs


@dataclass
class DemoJob:
    """One run for an adapter to train: its plan, the demo's context, and (once tracked) its id.

    The adapter builds ``setting.model``, calls ``track`` (which names, tags and records the
    run the same way in every framework), trains with ``advance`` after each step, evaluates on
    the validation split and finishes the run.
    """

    plan: RunPlan
    context: DemoContext
    run_id: str | None = None

    @property
    def framework(self) -> str:
        """The framework to train in."""
        return self.plan.framework

    @property
    def setting(self) -> Setting:
        """The grid setting: model, batch size, epochs, optimizer and learning rate."""
        return self.plan.setting

    @property
    def data(self) -> DigitsData:
        """The demo's digits."""
        return self.context.data

    @property
    def seed(self) -> int | None:
        """The demo's seed; ``None`` when unseeded."""
        return self.context.seed

    def hparams(self) -> dict[str, Any]:
        """The hyperparameters every demo run records."""
        s = self.setting
        return {
            "batch_size": s.batch_size,
            "epochs": s.epochs,
            "optimizer": s.optimizer,
            "learning_rate": s.learning_rate,
            "seed": self.seed,
            "paper_setting": s.paper,
        }

    def tags(self) -> dict[str, str]:
        """The tags every demo run records (``demo`` selects this demo's runs)."""
        return {
            "demo": self.context.session,
            "model": self.setting.model,
            "framework": self.framework,
        }

    def prepared(self, make: Callable[[DigitsData], _Prepared]) -> _Prepared:
        """This framework's prepared data: ``make(data)`` on the first run, kept for the rest."""
        cache = self.context.prepared
        if self.framework not in cache:
            cache[self.framework] = make(self.data)
        prepared: _Prepared = cache[self.framework]
        return prepared

    def track(self, model: Any, *, data: Any, **options: Any) -> Run:
        """``tracker.track(model, ...)`` with the demo's name, hparams, tags and gradient
        interval; ``options`` go to the adapter. Remembers the run's id."""
        run = self.context.tracker.track(
            model,
            name=self.setting.model,
            data=data,
            hparams=self.hparams(),
            tags=self.tags(),
            gradients_every=self.context.gradients_every,
            **options,
        )
        self.run_id = run.id
        return run

    def advance(self, steps: int = 1) -> None:
        """Report ``steps`` more training steps done."""
        self.context.progress.advance(steps)
