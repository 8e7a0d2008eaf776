"""Overhead of tracking a Keras fit: the seed's basic_cnn on 8x8 digits, tracked (gradients every
50 steps) against the same fit untracked. Prints the ratio of the median fit times (goal: 1.05).

    python benchmarks/bench_keras_fit.py [--epochs 5] [--repeats 5] [--batch-size 32]

Each mode gets its own model, compiled and warmed up by one fit (graph tracing), then timed over
``--repeats`` fits of ``--epochs`` epochs, the two modes interleaved so that machine noise hits
both alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any


def _basic_cnn(keras: Any) -> Any:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, 2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, 2),
            layers.Conv2D(128, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, 2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ],
        name="basic_cnn",
    )


def main(argv: list[str] | None = None) -> float:
    """Run the benchmark and return the tracked/untracked ratio of median fit times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--gradients-every", type=int, default=50)
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    from sklearn.datasets import load_digits

    import modelboard as mb

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = np.eye(10, dtype="float32")[digits.target]
    x_train, y_train, x_val, y_val = x[:1400], y[:1400], x[1400:], y[1400:]

    def fit(model: Any) -> float:
        start = time.perf_counter()
        model.fit(
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            epochs=args.epochs,
            batch_size=args.batch_size,
            verbose=0,
        )
        return time.perf_counter() - start

    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as folder, mb.Tracker(folder) as tracker:
        plain, tracked = _basic_cnn(keras), _basic_cnn(keras)
        for model in (plain, tracked):
            model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        run = tracker.track(tracked, name="bench", gradients_every=args.gradients_every)
        cold = {"untracked": fit(plain), "tracked": fit(tracked)}
        times: dict[str, list[float]] = {"untracked": [], "tracked": []}
        for _ in range(args.repeats):
            times["untracked"].append(fit(plain))
            times["tracked"].append(fit(tracked))
        run.finish()
        captures = len(tracker.get(run.id).gradients)

    steps = -(-len(x_train) // args.batch_size) * args.epochs
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratio = medians["tracked"] / medians["untracked"]
    print(f"keras {keras.__version__} backend={keras.backend.backend()}")
    print(
        f"{args.epochs} epochs x {steps // args.epochs} steps, gradients every "
        f"{args.gradients_every} steps ({captures} captures in all)"
    )
    for key in ("untracked", "tracked"):
        runs = " ".join(f"{t:.3f}" for t in times[key])
        print(f"{key:>9}: first fit {cold[key]:.3f} s; then median {medians[key]:.3f} s ({runs})")
    print(f"ratio tracked/untracked: {ratio:.3f} (goal <= 1.05)")
    return ratio


if __name__ == "__main__":
    main()
