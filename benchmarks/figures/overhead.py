"""Figure 1: training overhead, as a ratio to the same training untracked.

basic_cnn on the digits (the demo's own builders, ``adapters/{torch,keras}/demo.py``), Adam,
batch 32. One process per framework: every variant trains once a round, in an order rotated from
round to round (see :func:`~benchmarks.figures.common.rotated`), and each round's time is divided
by the untracked time of the same round. Only the training is timed: starting and finishing a run
(``track``/``finish``, ``wandb.watch``/``unwatch``, ``mlflow.start_run``/``end_run``) is not.

PyTorch: a plain loop, one intra-op thread (as the demo trains), a fresh model each round.
Keras: ``fit`` of one model per variant, built, compiled and traced once before the rounds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.figures.common import paired_ratios, progress, rotated, skipped
from benchmarks.peers import missing

__all__ = ["TorchVariant", "KerasVariant", "TORCH_VARIANTS", "KERAS_VARIANTS", "worker"]

EVERY = 10  # gradients every 10 steps, the setting


# -- the variant protocols -----------------------------------------------------------------


class TorchVariant:
    """One way of training a PyTorch loop; the base class is the untracked loop."""

    label = "untracked"
    peer: str | None = None
    #: called after ``backward()``, before ``optimizer.step()``, with (step, model); None: nothing
    on_step: Callable[[int, Any], None] | None = None

    def start(self, model: Any, optimizer: Any, folder: Path) -> None:
        """Before the timed loop (untimed)."""

    def epoch_end(self, epoch: int, loss: float) -> None:
        """At the end of each epoch (timed)."""

    def stop(self) -> None:
        """After the timed loop (untimed)."""

    def close(self) -> dict[str, Any]:
        """After the last round; returns facts to report (captures per run...)."""
        return {}


class KerasVariant:
    """One way of running Keras ``fit``; the base class is the untracked fit."""

    label = "untracked"
    peer: str | None = None

    def prepare(self, model: Any, folder: Path) -> None:
        """Once, before the warm-up fit (untimed)."""

    def before_fit(self) -> None:
        """Before each timed fit (untimed)."""

    def callbacks(self) -> list[Any]:
        """The callbacks of one fit (made untimed)."""
        return []

    def after_fit(self) -> None:
        """After each timed fit (untimed)."""

    def close(self) -> dict[str, Any]:
        """After the last round; returns facts to report."""
        return {}


# -- modelboard and the floor --------------------------------------------------------------


class _Tracker:
    tracker: Any = None

    @classmethod
    def get(cls, folder: Path) -> Any:
        if cls.tracker is None:
            import modelboard as mb

            cls.tracker = mb.Tracker(folder / "modelboard", announce=False)
        return cls.tracker


class TorchModelboard(TorchVariant):
    def __init__(self, every: int) -> None:
        self.every = every
        self.label = (
            f"modelboard `track(model, optimizer=opt, gradients_every={every})` + `run.log` "
            "per epoch"
            if every
            else "modelboard, `gradients_every=0` + `run.log` per epoch"
        )
        self.run: Any = None
        self.captures: int | None = None

    def start(self, model: Any, optimizer: Any, folder: Path) -> None:
        self.tracker = _Tracker.get(folder)
        self.run = self.tracker.track(model, optimizer=optimizer, gradients_every=self.every)

    def epoch_end(self, epoch: int, loss: float) -> None:
        self.run.log(epoch=epoch, loss=loss)

    def stop(self) -> None:
        self.run.finish()
        self.captures = len(self.tracker.get(self.run.id).gradients)

    def close(self) -> dict[str, Any]:
        return {"captures_per_run": self.captures}


class TorchFloor(TorchVariant):
    """A hand-written step pre-hook that computes the gradients' norms every 10 steps."""

    label = f"hand-written step pre-hook with grad norms every {EVERY} steps (the floor)"

    def start(self, model: Any, optimizer: Any, folder: Path) -> None:
        import torch

        self.norms: list[float] = []
        steps = [0]

        def hook(opt: Any, args: Any, kwargs: Any) -> None:
            if steps[0] % EVERY == 0:
                grads = [
                    p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None
                ]
                norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
                self.norms.extend(norms.tolist())
            steps[0] += 1

        self.handle = optimizer.register_step_pre_hook(hook)

    def stop(self) -> None:
        self.handle.remove()


class KerasModelboard(KerasVariant):
    def __init__(self, every: int) -> None:
        self.every = every
        self.label = (
            f"modelboard `track(model, gradients_every={every})`"
            if every
            else "modelboard, `gradients_every=0`"
        )

    def prepare(self, model: Any, folder: Path) -> None:
        self.tracker = _Tracker.get(folder)
        self.run = self.tracker.track(model, gradients_every=self.every)

    def close(self) -> dict[str, Any]:
        self.run.finish()
        record = self.tracker.get(self.run.id)
        return {"captures_in_all_fits": len(record.gradients)}


def _torch_variants() -> dict[str, Callable[[], TorchVariant]]:
    from benchmarks.peers import mlflow_peer, tensorboard_peer, wandb_peer

    return {
        "untracked": TorchVariant,
        "floor": TorchFloor,
        "modelboard": lambda: TorchModelboard(EVERY),
        "modelboard_nograd": lambda: TorchModelboard(0),
        "mlflow": mlflow_peer.TorchMLflow,
        "wandb": wandb_peer.TorchWandb,
        "tensorboard": tensorboard_peer.TorchTensorBoard,
    }


def _keras_variants() -> dict[str, Callable[[], KerasVariant]]:
    from benchmarks.peers import mlflow_peer, tensorboard_peer, wandb_peer

    return {
        "untracked": KerasVariant,
        "modelboard": lambda: KerasModelboard(EVERY),
        "modelboard_nograd": lambda: KerasModelboard(0),
        "mlflow": mlflow_peer.KerasMLflow,
        "wandb": wandb_peer.KerasWandb,
        "tensorboard": tensorboard_peer.KerasTensorBoard,
    }


TORCH_VARIANTS = [
    "untracked",
    "floor",
    "modelboard",
    "modelboard_nograd",
    "mlflow",
    "wandb",
    "tensorboard",
]
KERAS_VARIANTS = ["untracked", "modelboard", "modelboard_nograd", "mlflow", "wandb", "tensorboard"]
PEER_OF = {"mlflow": "mlflow", "wandb": "wandb", "tensorboard": "tensorboard"}


# -- the workers ---------------------------------------------------------------------------


def _digits(limit: int | None) -> Any:
    from modelboard.demo.data import load_digits_data

    data = load_digits_data(seed=0)
    if limit:
        data.x_train, data.y_train = data.x_train[:limit], data.y_train[:limit]
    return data


def _torch_rounds(args: dict[str, Any], folder: Path) -> dict[str, Any]:
    import torch

    # the demo's own network, optimizer and loss
    from modelboard.adapters.torch.demo import basic_cnn, categorical_crossentropy, make_optimizer

    torch.set_num_threads(1)
    data = _digits(args.get("limit"))
    x = torch.from_numpy(data.channels_first(data.x_train))
    y = torch.from_numpy(data.y_train)
    epochs, batch = int(args["epochs"]), 32

    def fresh() -> tuple[Any, Any]:
        torch.manual_seed(0)
        model = basic_cnn((1, 8, 8), data.num_classes)
        return model, make_optimizer("adam", model.parameters(), 1e-3)

    def train(variant: TorchVariant) -> tuple[float, float]:
        model, optimizer = fresh()
        model.train()
        variant.start(model, optimizer, folder)
        on_step = variant.on_step
        generator = torch.Generator().manual_seed(0)
        step = 0
        start, cpu = time.perf_counter(), time.process_time()
        for epoch in range(epochs):
            order = torch.randperm(len(x), generator=generator)
            for begin in range(0, len(x), batch):
                index = order[begin : begin + batch]
                optimizer.zero_grad()
                loss = categorical_crossentropy(model(x[index]), y[index])
                loss.backward()
                if on_step is not None:
                    on_step(step, model)
                optimizer.step()
                step += 1
            variant.epoch_end(epoch, float(loss.detach()))
        elapsed = time.perf_counter() - start, time.process_time() - cpu
        variant.stop()
        return elapsed

    steps = epochs * -(-len(x) // batch)
    return _rounds(args, _torch_variants(), train, {"steps_per_loop": steps, "epochs": epochs})


def _keras_rounds(args: dict[str, Any], folder: Path) -> dict[str, Any]:
    import keras

    from modelboard.adapters.keras.demo import basic_cnn, make_optimizer

    data = _digits(args.get("limit"))
    x, y = data.x_train, data.one_hot(data.y_train)
    epochs, batch = int(args["epochs"]), 32
    models: dict[str, Any] = {}

    def model_for(name: str, variant: KerasVariant) -> Any:
        if name not in models:
            keras.utils.set_random_seed(0)
            model = basic_cnn((8, 8, 1), data.num_classes)
            model.compile(
                optimizer=make_optimizer("adam", 1e-3),
                loss="categorical_crossentropy",
                metrics=["accuracy"],
            )
            variant.prepare(model, folder)
            variant.before_fit()
            model.fit(x, y, epochs=1, batch_size=batch, verbose=0, callbacks=variant.callbacks())
            variant.after_fit()  # the warm-up fit above traced the train step
            models[name] = model
        return models[name]

    def fit(variant: KerasVariant, name: str) -> tuple[float, float]:
        model = model_for(name, variant)
        variant.before_fit()
        callbacks = variant.callbacks()
        start, cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=callbacks)
        elapsed = time.perf_counter() - start, time.process_time() - cpu
        variant.after_fit()
        return elapsed

    steps = epochs * -(-len(x) // batch)
    return _rounds(
        args, _keras_variants(), fit, {"steps_per_fit": steps, "epochs": epochs}, by_name=True
    )


def _rounds(
    args: dict[str, Any],
    makers: dict[str, Callable[[], Any]],
    train: Callable[..., tuple[float, float]],
    facts: dict[str, Any],
    *,
    by_name: bool = False,
) -> dict[str, Any]:
    wanted = [n for n in args["variants"] if n in makers]
    entries: dict[str, Any] = {}
    variants: dict[str, Any] = {}
    for name in wanted:
        peer = PEER_OF.get(name)
        reason = missing(peer) if peer else None
        if reason:
            entries[name] = skipped(reason)
            continue
        variants[name] = makers[name]()
    # warm-up: the first loop of a process pays for lazy imports and allocator growth
    first = variants["untracked"]
    train(first, "untracked") if by_name else train(first)
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    rounds = int(args["rounds"])
    for round_index in range(rounds):
        for name in rotated(list(variants), round_index):
            variant = variants[name]
            seconds, cpu_seconds = train(variant, name) if by_name else train(variant)
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
        progress(
            f"  {args['framework']} round {round_index + 1}/{rounds}: "
            + ", ".join(f"{n} {times[n][-1] / times['untracked'][-1]:.3f}" for n in variants)
        )
    measured = paired_ratios(times, "untracked")
    # CPU time of the whole process (every thread): what the tracker costs the machine, and
    # less disturbed than wall time by other processes' load
    for name, entry in paired_ratios(cpu, "untracked").items():
        measured[name]["cpu"] = {k: entry[k] for k in ("median", "min", "max", "ratios")}
    for name, variant in variants.items():
        measured[name].update(variant.close(), label=variant.label)
    for name, entry in entries.items():
        entry["label"] = getattr(makers[name], "label", name)
    out = {name: measured.get(name, entries.get(name)) for name in wanted}
    return {"variants": out, "rounds": rounds, **facts}


def worker(args: dict[str, Any]) -> dict[str, Any]:
    """Run figure 1 for ``args["framework"]`` in this (fresh) process."""
    import os

    from benchmarks.peers import apply_offline_environment

    with tempfile.TemporaryDirectory(prefix="mb-bench-") as name:
        folder = Path(name)
        apply_offline_environment(folder / "peers")
        os.chdir(folder)  # peers that write next to the working folder write here
        if args["framework"] == "torch":
            result = _torch_rounds(args, folder)
            import sys

            result["tensorflow_imported"] = "tensorflow" in sys.modules
        else:
            result = _keras_rounds(args, folder)
        if _Tracker.tracker is not None:
            _Tracker.tracker.close()
            _Tracker.tracker = None
    return result
