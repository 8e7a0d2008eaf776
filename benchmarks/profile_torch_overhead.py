"""Where modelboard's overhead goes in figure 1's PyTorch loop (basic_cnn, digits, 3 epochs,
135 Adam steps): the tracker's own CPU on the training thread, summed inside its entry points
(step hooks, gradient hooks, first-batch hooks, ``run.log``), the first forward's extra time,
and the writer thread's CPU clock, per loop (median of ROUNDS loops, gradients every 10 and
off, interleaved with untracked loops). CPU clocks, so that other processes count less.

    python benchmarks/profile_torch_overhead.py [ROUNDS]

Linux only (``time.pthread_getcpuclockid``). See docs/benchmarks.md, "Where the overhead goes".
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

Spent = dict[str, list[float]]


def _wrap(cls: Any, name: str, label: str, spent: Spent) -> None:
    original: Callable[..., Any] = getattr(cls, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent.setdefault(label, []).append(time.thread_time() - started)

    setattr(cls, name, timed)


def _writer_cpu() -> float:
    return sum(
        time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        for t in threading.enumerate()
        if t.name.startswith("modelboard-writer") and t.is_alive() and t.ident is not None
    )


def main(rounds: int) -> None:
    import torch

    import modelboard as mb
    from modelboard.adapters.torch import first_batch, training
    from modelboard.adapters.torch.demo import basic_cnn, categorical_crossentropy, make_optimizer
    from modelboard.demo.data import load_digits_data
    from modelboard.tracking.run import Run

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    spent: Spent = {}
    handle, capture = training.TorchTrainingHandle, first_batch.FirstBatchCapture
    _wrap(handle, "_pre_step", "step pre-hook", spent)
    _wrap(handle, "_post_step", "step post-hook", spent)
    _wrap(handle, "_on_grad", "gradient hooks", spent)
    _wrap(capture, "_begin", "first batch: begin", spent)
    _wrap(capture, "_end", "first batch: end (layers + record)", spent)
    _wrap(Run, "log", "run.log", spent)
    data = load_digits_data(seed=0)
    x = torch.from_numpy(data.channels_first(data.x_train))
    y = torch.from_numpy(data.y_train)
    tracker = mb.Tracker(tempfile.mkdtemp(), announce=False)

    def loop(every: int | None) -> tuple[float, float, float, dict[str, list[float]]]:
        torch.manual_seed(0)
        model = basic_cnn((1, 8, 8), data.num_classes)
        optimizer = make_optimizer("adam", model.parameters(), 1e-3)
        run = None
        if every is not None:
            run = tracker.track(model, optimizer=optimizer, gradients_every=every)
        generator = torch.Generator().manual_seed(0)
        spent.clear()
        writer, started, first = _writer_cpu(), time.thread_time(), -1.0
        for epoch in range(3):
            order = torch.randperm(len(x), generator=generator)
            for begin in range(0, len(x), 32):
                index = order[begin : begin + 32]
                forward = time.thread_time()
                optimizer.zero_grad()
                output = model(x[index])
                if first < 0:
                    first = time.thread_time() - forward
                loss = categorical_crossentropy(output, y[index])
                loss.backward()
                optimizer.step()
            if run is not None:
                run.log(epoch=epoch, loss=float(loss.detach()))
        total, writer = time.thread_time() - started, _writer_cpu() - writer
        parts = {k: list(v) for k, v in spent.items()}
        if run is not None:
            run.finish()
        return total, first, writer, parts

    for every in (None, 10, 0):  # warm-up
        loop(every)
    results: dict[str, list[Any]] = {"untracked": [], "every 10": [], "off": []}
    for _ in range(rounds):
        for label, every in (("untracked", None), ("every 10", 10), ("off", 0)):
            results[label].append(loop(every))
    untracked = results["untracked"]
    base_first = statistics.median(r[1] for r in untracked)
    for label in ("every 10", "off"):
        rows = results[label]
        loop_ms = statistics.median(r[0] for r in rows) * 1e3
        base_ms = statistics.median(r[0] for r in untracked) * 1e3
        print(f"== gradients {label}: loop thread CPU {loop_ms:.1f} ms (untracked {base_ms:.1f})")
        total = 0.0
        for part in sorted({p for r in rows for p in r[3]}):
            value = statistics.median(sum(r[3].get(part, [])) for r in rows)
            calls = sorted(rows[0][3].get(part, [0.0]))
            total += value
            median_us = calls[len(calls) // 2] * 1e6
            print(f"   {part:36s} {value * 1e3:7.3f} ms  ({len(calls)} calls, {median_us:.1f} us)")
        first = statistics.median(r[1] for r in rows) - base_first
        writer_ms = statistics.median(r[2] for r in rows) * 1e3
        print(f"   {'first forward, over untracked':36s} {first * 1e3:7.3f} ms")
        print(f"   {'tracker on the training thread':36s} {(total + first) * 1e3:7.3f} ms")
        print(f"   {'writer thread':36s} {writer_ms:7.3f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
