"""Train functions the search tests hand to ``mb.search``: importable, so spawned workers run
them. Frameworks are imported inside the functions (the test process never imports TF)."""

from __future__ import annotations

from typing import Any

import numpy as np

SPACE: dict[str, Any] = {}  # filled by space() (scipy is imported lazily there)
N_TRAIN, N_VAL = 360, 180


def space() -> dict[str, Any]:
    """batch_size, epochs, optimizer and learning rate (a log-uniform distribution)."""
    from scipy.stats import loguniform

    return {
        "batch_size": [16, 32, 64],
        "epochs": [1, 2],
        "optimizer": ["adam", "sgd"],
        "learning_rate": loguniform(1e-3, 1e-1),
    }


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A small split of scikit-learn's digits: 360 training and 180 validation images."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype("float32")
    y = bunch.target.astype("int64")
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN : N_TRAIN + N_VAL], y[N_TRAIN : N_TRAIN + N_VAL]


def train_keras(params: dict[str, Any], run: Any) -> float:
    """A dense Keras classifier; the adapter records it (run.track); returns the last
    val_accuracy of Keras' own history."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    keras.utils.set_random_seed(0)
    x, y, xv, yv = digits()
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(10)]
    )
    optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[params["optimizer"]]
    model.compile(
        optimizer=optimizer(learning_rate=params["learning_rate"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    run.track(model)
    history = model.fit(
        x,
        y,
        batch_size=params["batch_size"],
        epochs=params["epochs"],
        validation_data=(xv, yv),
        verbose=0,
    )
    return float(history.history["val_accuracy"][-1])


def train_torch(params: dict[str, Any], run: Any) -> float:
    """A small torch MLP in a plain loop, logging val_accuracy per epoch; returns the last."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y, xv, yv = (torch.from_numpy(a) for a in digits())
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    optimizer_class = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[params["optimizer"]]
    optimizer = optimizer_class(model.parameters(), lr=params["learning_rate"])
    run.track(model, optimizer=optimizer)
    loss_fn = torch.nn.CrossEntropyLoss()
    accuracy = float("nan")
    for epoch in range(params["epochs"]):
        model.train()
        size = params["batch_size"]
        for start in range(0, len(x), size):
            xb, yb = x[start : start + size], y[start : start + size]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(xv).argmax(1) == yv).float().mean())
        run.log(epoch=epoch, val_accuracy=accuracy)
    return accuracy


def train_quality(params: dict[str, Any], run: Any) -> None:
    """No framework: logs ``score = quality * (epoch + 1)`` for three epochs, raises for the
    quality ``"fail"``; returns None (the search reads the last logged score)."""
    if params["quality"] == "fail":
        raise RuntimeError("this trial breaks on purpose")
    for epoch in range(3):
        run.log(epoch=epoch, score=float(params["quality"]) * (epoch + 1))
    return None
