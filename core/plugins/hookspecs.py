"""The hooks an adapter plugin implements. Every hook is named ``modelboard_*``.

Dispatch is by asking: each adapter answers ``None`` for an object that is not its framework's,
deciding from ``type(obj).__module__`` or ``sys.modules`` and never by importing a framework.
The hooks marked ``firstresult`` stop at the first adapter that answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelboard.plugins.markers import hookspec

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from modelboard.demo import DemoJob, DemoModels
    from modelboard.plugins.options import TrackOption
    from modelboard.plugins.types import FrameworkInfo, ModelOutputs, TrainingHandle
    from modelboard.records import (
        AugmentationRecord,
        NetworkRecord,
        ParameterGradientStats,
        SplitRecord,
    )
    from modelboard.tracking.distributed import ProcessGroup
    from modelboard.tracking.run import Run


@hookspec(firstresult=True)
def modelboard_detect_framework(obj: Any) -> FrameworkInfo | None:
    """Claim ``obj`` as a model of this adapter's framework.

    Called first by ``Tracker.track(obj)``. Return a ``FrameworkInfo`` (framework name and
    version) for a model this adapter can describe, ``None`` otherwise. firstresult.
    """


@hookspec(firstresult=True)
def modelboard_track_options(obj: Any) -> list[TrackOption] | None:
    """Declare the keyword options ``track(obj, **options)`` takes for this adapter's models.

    Called by ``Tracker.track`` after the framework was detected, before anything is stored.
    Return every option this adapter reads (the shared ones from
    ``modelboard.plugins.options.shared(...)`` plus its own ``TrackOption``s); the tracker
    refuses unknown names and values of the wrong kind with ``TypeError``. Return ``None`` for an
    object of another framework; an adapter that implements no declaration gets its options
    unchecked. firstresult.
    """


@hookspec(firstresult=True)
def modelboard_describe_network(obj: Any, options: dict[str, Any]) -> NetworkRecord | None:
    """Describe the model's layers, parameter counts, optimizer and loss as a ``NetworkRecord``.

    Called by ``Tracker.track`` after the framework was detected. ``options`` holds the keyword
    arguments of ``track`` that the core did not use (``optimizer=``, ``example_input=``...).
    Return ``None`` for an object of another framework. firstresult.
    """


@hookspec(firstresult=True)
def modelboard_attach_training(
    obj: Any, run: Run, options: dict[str, Any]
) -> TrainingHandle | None:
    """Attach to the model's training so that history and gradients are recorded automatically.

    Called by ``Tracker.track`` once the run exists. Return a handle whose ``detach()`` removes
    every hook the adapter added (called at ``run.finish()`` and when the model is tracked
    again), or ``None`` for an object of another framework. firstresult.
    """


@hookspec(firstresult=True)
def modelboard_compute_gradients(
    obj: Any, x: Any, y: Any, loss: Any, options: dict[str, Any]
) -> list[ParameterGradientStats] | None:
    """Compute per-parameter gradient statistics for one batch on demand, without training.

    Called by ``run.gradients(x, y, loss)``. ``loss`` is the user's loss (a callable or a
    framework loss object) or ``None`` for the model's compiled loss. Return ``None`` for an
    object of another framework. firstresult.
    """


@hookspec(firstresult=True)
def modelboard_predict(obj: Any, x: Any, options: dict[str, Any]) -> ModelOutputs | Any | None:
    """Return the model's raw outputs for ``x``, with what the adapter knows about them.

    Called by ``run.predict(x)`` and ``run.evaluate(x, y)``. ``options`` may hold
    ``batch_size``. Return a ``ModelOutputs`` (numpy outputs, ``from_logits``, the last layer's
    activation) and do not convert: the core alone turns outputs into probabilities
    (``modelboard.probabilities``). A plain numpy array is read as outputs about
    which nothing is known. Return ``None`` for an object of another framework. firstresult.
    """


@hookspec(firstresult=True)
def modelboard_describe_split(name: str, x: Any, y: Any) -> SplitRecord | None:
    """Describe one data split given as framework objects (tf.data, DataLoader, tensors).

    Called by ``mb.Data`` for each split before the core's own numpy description. ``y`` is
    ``None`` when the split came as a single object. Return ``None`` for data this adapter does
    not know. firstresult.
    """


@hookspec(firstresult=True)
def modelboard_describe_augmentations(obj: Any) -> list[AugmentationRecord] | None:
    """Describe an augmentation pipeline (ImageDataGenerator, torchvision transforms...).

    Called by ``mb.Data(augmentations=obj)``. Return one record per step with all of its
    parameters, or ``None`` for an object this adapter does not know. firstresult.
    """


@hookspec(firstresult=True)
def modelboard_distributed_context() -> ProcessGroup | None:
    """Report the framework's process group when one is initialised in this process.

    Called by ``Tracker.track`` and ``Tracker.start_run`` before a run is made: with a group,
    every rank's call makes one run (rank 0 creates it and sends its id to the others through
    the group). Return a ``modelboard.tracking.distributed.ProcessGroup`` (backend, world size,
    rank and the collective calls), or ``None`` when this framework has no initialised group
    (or is not imported: never import a framework here). firstresult.
    """


@hookspec
def modelboard_environment() -> dict[str, Any] | None:
    """Return facts about this adapter's framework for the run's environment record.

    Called once per run by every adapter; the answers are merged. Report only frameworks that
    are already imported (``sys.modules``): never import one here. Return ``None`` for nothing.
    """


@hookspec(firstresult=True)
def modelboard_reproduce(network: NetworkRecord) -> Any | None:
    """Rebuild an untrained model from a stored ``NetworkRecord``.

    Called by ``mb.reproduce(run_id)``. Return the new model, or ``None`` when the record is of
    another framework. firstresult.
    """


# -- the demo (``modelboard demo``) -----------------------------------------------------------


@hookspec
def modelboard_demo_models() -> DemoModels | None:
    """Offer this adapter's framework to ``modelboard demo``.

    Called by the demo before it parses its options, once per adapter; never import a
    framework here. Return a ``modelboard.demo.DemoModels``: the framework's name, the canonical
    grid models it can build (``basic_cnn``, ``vgg_cnn``) and the import names its runs need;
    or ``None`` when this adapter has no demo. Every adapter's answer is used.
    """


@hookspec
def modelboard_demo_session(frameworks: list[str]) -> AbstractContextManager[None] | None:
    """Prepare this adapter's framework for a whole demo.

    Called once by ``modelboard demo`` before its first run, with the frameworks it will train
    in. Return a context manager (not yet entered) that imports and sets up the framework on
    entry (threads, log filters) and undoes what it can on exit; or ``None`` when this
    adapter's framework is not in ``frameworks``. The demo enters them in hook order, so an
    adapter whose framework must be imported before another's marks its hookimpl ``tryfirst``.
    """


@hookspec(firstresult=True)
def modelboard_demo_train(job: DemoJob) -> Run | None:
    """Train one demo run: the grid setting ``job.setting`` in the framework ``job.framework``.

    Called by ``modelboard demo`` for each run of its grid, inside the session. Build the model
    named ``job.setting.model``, track it with ``job.track(model, data=...)``, train for
    ``job.setting.epochs`` calling ``job.advance()`` after each step, evaluate on the validation
    split (``run.evaluate``) and finish the run. Return the run, or ``None`` when
    ``job.framework`` is not this adapter's. An exception fails this run only. firstresult.
    """
