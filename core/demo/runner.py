"""Runs the demo's plan through the adapters: each trains its own framework's runs.

The demo knows no framework: it asks the plugin manager which demo models the adapters offer
(``modelboard_demo_models``), lets them prepare their frameworks for the whole demo
(``modelboard_demo_session``) and hands each run to the adapter of its framework
(``modelboard_demo_train``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from modelboard.demo.grid import Setting
from modelboard.demo.jobs import DemoContext, DemoJob, DemoModels, RunPlan

__all__ = [
    "RunResult",
    "demo_models",
    "missing_packages",
    "framework_session",
    "plan_runs",
    "train",
]


@dataclass
class RunResult:
    """How a run went: its id, validation accuracy, wall time, or the error that stopped it."""

    plan: RunPlan
    run_id: str | None = None
    val_accuracy: float | None = None
    seconds: float = 0.0
    error: str | None = None


def demo_models() -> dict[str, DemoModels]:
    """Every adapter's demo models by framework name, in name order (imports no framework)."""
    from modelboard.plugins import get_plugin_manager

    offers = get_plugin_manager().hook.modelboard_demo_models()
    return {offer.framework: offer for offer in sorted(offers, key=lambda o: o.framework)}


def missing_packages(framework: str) -> list[str]:
    """The packages ``framework``'s demo runs need that are not installed (found without
    importing them)."""
    offer = demo_models()[framework]
    return [name for name in offer.requirements if importlib.util.find_spec(name) is None]


@contextlib.contextmanager
def framework_session(frameworks: Sequence[str]) -> Iterator[None]:
    """Inside the block, every framework in ``frameworks`` is imported and set up for the demo
    by its adapter (in the order the adapters ask for), and torn down after."""
    from modelboard.plugins import get_plugin_manager

    hook = get_plugin_manager().hook
    with contextlib.ExitStack() as stack:
        for session in hook.modelboard_demo_session(frameworks=list(frameworks)):
            stack.enter_context(session)
        yield


def plan_runs(
    settings: Sequence[Setting], frameworks: Sequence[str], offers: dict[str, DemoModels]
) -> list[RunPlan]:
    """Every setting in every framework that offers its model, setting by setting."""
    return [
        RunPlan(fw, setting)
        for setting in settings
        for fw in frameworks
        if setting.model in offers[fw].models
    ]


def train(context: DemoContext, plan: RunPlan) -> RunResult:
    """Train and evaluate one run through its framework's adapter; an error fails that run
    (recorded) and is returned."""
    from modelboard.plugins import get_plugin_manager

    start = time.perf_counter()
    job = DemoJob(plan, context)
    result = RunResult(plan)
    try:
        run = get_plugin_manager().hook.modelboard_demo_train(job=job)
        if run is None:
            raise RuntimeError(f"no adapter trains {plan.framework} demo runs")
        job.run_id = job.run_id or run.id
        evaluation = context.tracker.get(run.id).evaluations.get("val")
        if evaluation is not None:
            result.val_accuracy = evaluation.metrics.get("accuracy")
    except Exception as exc:  # one failed run must not stop the demo; it is reported
        result.error = f"{type(exc).__name__}: {exc}"
    result.run_id = job.run_id
    result.seconds = time.perf_counter() - start
    return result
