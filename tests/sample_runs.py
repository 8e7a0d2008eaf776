"""Runs shared by the leaderboard, compare and CLI tests: Keras-like and torch-like basic_cnn.

The networks mirror the seed paper's basic_cnn on 28x28x1 images: Keras
``Conv2D(32, 3, relu) > MaxPooling2D > Conv2D(64, 3, relu) > MaxPooling2D > Flatten >
Dense(64, relu) > Dropout(0.3) > Dense(10, softmax)`` and its torch twin with separate ReLU
modules inside ``nn.Sequential`` containers.
"""

from __future__ import annotations

from pathlib import Path

from modelboard.canonical import architecture_signature, fold_activations
from modelboard.records import (
    AugmentationRecord,
    DataRecord,
    EvaluationRecord,
    GradientRecord,
    LayerRecord,
    NetworkRecord,
    OptimizerRecord,
    SplitRecord,
)
from modelboard.tracking import Tracker

FEATURES = [f"pixel_{i}" for i in range(4)]


def _conv(path: str, type_: str, filters: int, params: int, **extra: object) -> LayerRecord:
    config = {"filters": filters, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid"}
    config.update(extra)
    return LayerRecord(path, type_, "conv2d", canonical_config=config, trainable_params=params)


def _dense(path: str, type_: str, units: int, params: int, activation: str | None) -> LayerRecord:
    config = {"units": units, "use_bias": True, "activation": activation}
    return LayerRecord(path, type_, "dense", canonical_config=config, trainable_params=params)


def _pool(path: str, type_: str) -> LayerRecord:
    config = {"pool_size": [2, 2], "strides": [2, 2]}
    return LayerRecord(path, type_, "maxpool2d", canonical_config=config)


def keras_basic_cnn(extra_dense: bool = False) -> NetworkRecord:
    """The Keras basic_cnn; ``extra_dense`` adds a Dense(32) after the Dense(64)."""
    layers = [
        LayerRecord("input_layer", "InputLayer", "input"),
        _conv("conv2d", "Conv2D", 32, 320, activation="relu"),
        _pool("max_pooling2d", "MaxPooling2D"),
        _conv("conv2d_1", "Conv2D", 64, 18496, activation="relu"),
        _pool("max_pooling2d_1", "MaxPooling2D"),
        LayerRecord("flatten", "Flatten", "flatten"),
        _dense("dense", "Dense", 64, 102464, "relu"),
    ]
    last_in = 64
    if extra_dense:
        layers.append(_dense("dense_extra", "Dense", 32, 2080, "relu"))
        last_in = 32
    layers += [
        LayerRecord("dropout", "Dropout", "dropout", canonical_config={"rate": 0.3}),
        _dense("dense_1", "Dense", 10, last_in * 10 + 10, "softmax"),
    ]
    total = sum(layer.trainable_params for layer in layers)
    return NetworkRecord(
        framework="keras",
        architecture="basic_cnn_wide" if extra_dense else "basic_cnn",
        layers=layers,
        total_params=total,
        trainable_params=total,
        signature=architecture_signature(layers),
        optimizer=OptimizerRecord("Adam", learning_rate=0.001),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        batch_size=32,
        epochs_planned=3,
        epochs_run=3,
        early_stopping={"patience": 3, "stopped_epoch": None, "best_epoch": 2},
        hyperparameters={"dropout": 0.3},
    )


def torch_basic_cnn() -> NetworkRecord:
    """The PyTorch twin of :func:`keras_basic_cnn`."""
    layers = [
        LayerRecord("", "BasicCNN", "basiccnn", is_container=True),
        LayerRecord("features", "Sequential", "sequential", is_container=True, depth=1),
        _conv("features.0", "Conv2d", 32, 320),
        LayerRecord("features.1", "ReLU", "activation", canonical_config={"activation": "relu"}),
        _pool("features.2", "MaxPool2d"),
        _conv("features.3", "Conv2d", 64, 18496),
        LayerRecord("features.4", "ReLU", "activation", canonical_config={"activation": "relu"}),
        _pool("features.5", "MaxPool2d"),
        LayerRecord("flatten", "Flatten", "flatten"),
        _dense("fc1", "Linear", 64, 102464, None),
        LayerRecord("relu", "ReLU", "activation", canonical_config={"activation": "relu"}),
        LayerRecord("dropout", "Dropout", "dropout", canonical_config={"rate": 0.3}),
        _dense("fc2", "Linear", 10, 650, None),
    ]
    fold_activations(layers)
    total = sum(layer.trainable_params for layer in layers)
    return NetworkRecord(
        framework="torch",
        architecture="BasicCNN",
        layers=layers,
        total_params=total,
        trainable_params=total,
        signature=architecture_signature(layers),
        optimizer=OptimizerRecord("SGD", learning_rate=0.01),
        loss="CrossEntropyLoss",
        batch_size=64,
        epochs_planned=3,
        epochs_run=3,
    )


def digits_data(features: list[str] | None = None, fingerprint: str = "f" * 32) -> DataRecord:
    """A data record like ``mb.Data('digits', ...)`` makes, with given features."""
    return DataRecord(
        name="digits",
        splits={
            "train": SplitRecord(
                "train", size=1437, x_shape=[1437, 28, 28, 1], y_shape=[1437], fingerprint="a" * 32
            ),
            "val": SplitRecord(
                "val", size=360, x_shape=[360, 28, 28, 1], y_shape=[360], fingerprint="b" * 32
            ),
        },
        features=features if features is not None else list(FEATURES),
        num_classes=10,
        image={"height": 28, "width": 28, "channels": 1, "layout": "hwc"},
        augmentations=[AugmentationRecord("keras", "ImageDataGenerator", {"rotation_range": 90})],
        fingerprint=fingerprint,
    )


def evaluation(accuracy: float) -> EvaluationRecord:
    """A val-split evaluation with per-class precision and recall."""
    return EvaluationRecord(
        split="val",
        task="classification",
        n_samples=360,
        class_names=["0", "1"],
        metrics={"accuracy": accuracy, "precision_macro": accuracy - 0.01},
        per_class={"precision": [accuracy, accuracy - 0.02], "recall": [0.9, 0.8]},
    )


def _log(run, series: dict[str, list[float]]) -> None:  # type: ignore[no-untyped-def]
    for epoch in range(len(next(iter(series.values())))):
        run.log(step=epoch, epoch=epoch, **{k: v[epoch] for k, v in series.items()})


def build_store(path: Path, store: str | None = None) -> tuple[Tracker, dict[str, str]]:
    """Five runs: keras and torch basic_cnn, a wider Keras net, a failed torch run and a run of
    another project, in the folder ``path`` or the database ``store`` (artifacts in ``path``).
    Returns the tracker and the run ids by key."""
    tracker = Tracker(store or path, plugin_manager=_plugins(), artifact_root=path / "artifacts")
    ids: dict[str, str] = {}

    run = tracker.start_run(
        "basic_cnn",
        framework="keras",
        tags={"baseline": "yes"},
        hparams={"batch_size": 32, "epochs": 3, "optimizer": "adam"},
    )
    run.set_data(digits_data())
    run.set_network(keras_basic_cnn())
    _log(
        run,
        {
            "loss": [1.0, 0.5, 0.3],
            "val_loss": [0.9, 0.6, 0.45],
            "accuracy": [0.6, 0.8, 0.9],
            "val_accuracy": [0.55, 0.75, 0.84],
        },
    )
    run.store_evaluation(evaluation(0.86))
    run.finish()
    ids["keras"] = run.id

    run = tracker.start_run(
        "basic_cnn",
        framework="torch",
        hparams={"batch_size": 64, "epochs": 3, "optimizer": "sgd", "lr": 0.01},
    )
    run.set_data(digits_data())
    run.set_network(torch_basic_cnn())
    _log(
        run,
        {"loss": [0.9, 0.4, 0.35], "val_loss": [0.8, 0.3, 0.5], "val_accuracy": [0.6, 0.92, 0.9]},
    )
    run.store_evaluation(evaluation(0.91))
    run.log_gradients(GradientRecord(step=1, flags={"vanishing": False, "exploding": False}))
    run.finish()
    ids["torch"] = run.id

    run = tracker.start_run(
        "basic_cnn_wide",
        framework="keras",
        tags={"baseline": "no"},
        hparams={"batch_size": 128, "epochs": 3, "optimizer": "adam"},
    )
    run.set_data(digits_data(FEATURES + ["label_leak"], fingerprint="c" * 32))
    run.set_network(keras_basic_cnn(extra_dense=True))
    _log(
        run, {"loss": [1.1, 0.7, 0.6], "val_loss": [1.0, 0.8, 0.7], "val_accuracy": [0.5, 0.7, 0.8]}
    )
    run.finish()
    ids["wide"] = run.id

    run = tracker.start_run("unstable", framework="torch", hparams={"batch_size": 16, "lr": 1.0})
    _log(run, {"loss": [2.0, float("nan")]})
    run.log_gradients(GradientRecord(step=1, flags={"vanishing": True, "exploding": False}))
    run.finish("failed")
    ids["failed"] = run.id

    run = tracker.start_run("notes", project="other", hparams={"batch_size": 8})
    run.finish()
    ids["other"] = run.id
    return tracker, ids


def _plugins():  # type: ignore[no-untyped-def]
    """A plugin manager without entry-point adapters (the tests need none)."""
    from modelboard.plugins import create_plugin_manager

    return create_plugin_manager(autoload=False)
