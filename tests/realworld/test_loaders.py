"""Loaders as real scripts use them: a DataLoader-trained PyTorch net (pytorch/examples mnist
style), a tf.data pipeline with ``batch().prefetch()`` and ``repeat()``, a Keras ``PyDataset``.

Each asserts what modelboard records against the loader's own numbers (``loader.batch_size``,
``len(loader)``, ``dataset.cardinality()``, ``len(py_dataset)``), and that evaluating a
shuffling loader scores exactly as evaluating the same arrays.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelboard as mb
from modelboard.data import training_facts, training_unknowns

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8x8 one-channel images whose class (of 3) is where their bright quadrant is."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(0.0, 0.3, size=(n, 1, 8, 8)).astype("float32")
    for i, label in enumerate(y):
        row, col = divmod(int(label), 2)
        x[i, 0, row * 4 : row * 4 + 4, col * 4 : col * 4 + 4] += 1.0
    return x, y.astype("int64")


class Net(nn.Module):
    """pytorch/examples mnist's Net, sized for 8x8 images."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.fc1 = nn.Linear(8 * 2 * 2, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


@pytest.fixture(autouse=True)
def _few_threads() -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)


@pytest.fixture
def loader_tracker(tmp_path: Path) -> Any:
    with mb.Tracker(tmp_path / "store", plugin_manager=mb.create_plugin_manager()) as tracker:
        yield tracker


@pytest.mark.torch
@pytest.mark.parametrize("drop_last", [True, False])
def test_dataloader_trained_run_records_the_loaders_batches(
    loader_tracker: mb.Tracker, drop_last: bool
) -> None:
    torch.manual_seed(1)
    x, y = _images(150, seed=0)
    x_test, y_test = _images(61, seed=1)
    train_loader = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=32,
        shuffle=True,
        drop_last=drop_last,
    )
    test_loader = DataLoader(
        TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)),
        batch_size=16,
        shuffle=True,
    )
    data = mb.Data("quadrants", train=train_loader, test=test_loader)
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    run = loader_tracker.track(model, optimizer=optimizer, data=data, gradients_every=0)
    steps = 0
    for _epoch in range(3):
        for batch_x, batch_y in train_loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(batch_x), batch_y)
            loss.backward()
            optimizer.step()
            steps += 1
    split = data.record.splits["train"]
    assert split.batch_size == train_loader.batch_size == 32
    assert split.steps_per_epoch == len(train_loader) == steps // 3
    assert split.steps_per_epoch == (4 if drop_last else 5)  # 150 samples: 4 full batches + 22
    assert split.size == 150 and split.unknown == {}
    assert training_facts(data) == {"batch_size": 32, "steps_per_epoch": len(train_loader)}
    assert training_facts(data.record) == training_facts(data)
    assert training_unknowns(data) == {}
    assert data.record.splits["test"].steps_per_epoch == len(test_loader) == 4

    from_loader = run.evaluate(test_loader, split="test", plots=False)
    from_arrays = run.evaluate(x_test, y_test, split="test_arrays", plots=False)
    run.finish()
    with torch.no_grad():
        predicted = model(torch.from_numpy(x_test)).argmax(1).numpy()
    assert len(set(predicted.tolist())) > 1  # a constant model could not tell orders apart
    assert from_loader.n_samples == from_arrays.n_samples == 61
    assert from_loader.metrics["accuracy"] == from_arrays.metrics["accuracy"]
    assert from_loader.metrics["accuracy"] == pytest.approx(float((predicted == y_test).mean()))
    assert from_loader.confusion_matrix == from_arrays.confusion_matrix
    stored = loader_tracker.get(run.id).data.splits["train"]
    assert (stored.batch_size, stored.steps_per_epoch) == (32, len(train_loader))


@pytest.mark.torch
def test_a_dataloader_as_data_is_the_train_split(loader_tracker: mb.Tracker) -> None:
    x, y = _images(40, seed=2)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=8)
    run = loader_tracker.track(Net(), data=loader, gradients_every=0)
    run.finish()
    stored = loader_tracker.get(run.id).data
    assert stored.name == "TensorDataset"
    assert training_facts(stored) == {"batch_size": 8, "steps_per_epoch": 5}


@pytest.mark.torch
def test_predict_over_a_loader_keeps_the_loaders_order(loader_tracker: mb.Tracker) -> None:
    torch.manual_seed(0)
    x, y = _images(30, seed=3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=7)
    run = loader_tracker.track(model, gradients_every=0)
    probabilities = run.predict(loader)
    scores, labels = run.predict_with_labels(loader)
    run.finish()
    expected = torch.softmax(model(torch.from_numpy(x)), dim=1).detach().numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    np.testing.assert_array_equal(labels, y)


def test_mismatched_lengths_are_refused(loader_tracker: mb.Tracker) -> None:
    x5, y3 = np.zeros((5, 2), dtype="float32"), np.array([0, 1, 0])
    with pytest.raises(ValueError, match=r"split 'train': x has 5 rows but y has 3"):
        mb.Data("d", train=(x5, y3))
    with pytest.raises(ValueError, match=r"split 'val': x has 5 rows but y has 3"):
        mb.Data("d", train=(x5, np.zeros(5)), val=(x5, y3))
    run = loader_tracker.track(nn.Linear(2, 2), gradients_every=0)
    with pytest.raises(ValueError, match=r"split 'val': x has 5 rows but y has 3"):
        run.evaluate(x5, y3, plots=False)
    run.evaluate(x5, np.array([0, 1, 0, 1, 1]), plots=False)  # the run is still usable
    run.finish()
    assert list(loader_tracker.get(run.id).evaluations) == ["val"]


# -- Keras: tf.data and PyDataset -------------------------------------------------------------


@pytest.fixture
def keras_tf() -> Any:
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.data needs the TensorFlow backend")
    import tensorflow as tf

    return keras, tf


def _keras_convnet(keras: Any) -> Any:
    """keras-io mnist_convnet, sized for 8x8 images."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


@pytest.mark.keras
def test_tf_data_pipelines_record_their_batches_and_infinite_size(
    keras_tf: Any, loader_tracker: mb.Tracker, caplog: pytest.LogCaptureFixture
) -> None:
    keras, tf = keras_tf
    x, y = _images(100, seed=4)
    x = x.transpose(0, 2, 3, 1)
    slices = tf.data.Dataset.from_tensor_slices((x, y))
    pipeline = slices.shuffle(100, seed=0).batch(32).prefetch(tf.data.AUTOTUNE)
    kept = slices.batch(32, drop_remainder=True)
    endless = slices.batch(32).repeat()
    filtered = slices.filter(lambda _x, label: label > 0).batch(32)
    taken = slices.batch(32).take(2)
    with caplog.at_level(logging.WARNING, logger="modelboard"):
        data = mb.Data(
            "quadrants",
            train=pipeline,
            splits={"kept": kept, "endless": endless, "filtered": filtered, "taken": taken},
        )
    splits = data.record.splits
    train = splits["train"]
    assert train.size == 100 and train.batch_size == 32
    assert train.steps_per_epoch == int(pipeline.cardinality()) == 4
    assert train.x_shape == [100, 8, 8, 1] and train.unknown == {}
    assert splits["kept"].steps_per_epoch == int(kept.cardinality()) == 3
    assert splits["kept"].size == 100 and splits["kept"].details["drop_remainder"] is True
    assert int(endless.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
    assert splits["endless"].size is None and splits["endless"].steps_per_epoch is None
    assert splits["endless"].batch_size == 32
    assert "infinite" in splits["endless"].unknown["size"]
    assert "infinite" in splits["endless"].unknown["steps_per_epoch"]
    assert int(filtered.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    assert splits["filtered"].size is None and splits["filtered"].steps_per_epoch is None
    assert "unknown cardinality" in splits["filtered"].unknown["steps_per_epoch"]
    assert splits["taken"].steps_per_epoch == 2 and splits["taken"].size is None
    assert "2 where 100 elements make 4" in splits["taken"].unknown["size"]
    warned = [r.getMessage() for r in caplog.records if "is unknown" in r.getMessage()]
    assert len(warned) == 5  # once per unknown field: endless 2, filtered 2, taken 1
    assert training_facts(data) == {"batch_size": 32, "steps_per_epoch": 4}
    repeated = mb.Data("quadrants", train=endless)
    assert training_facts(repeated) == {"batch_size": 32}
    assert "infinite" in training_unknowns(repeated)["steps_per_epoch"]

    keras.utils.set_random_seed(0)
    model = _keras_convnet(keras)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    run = loader_tracker.track(model, data=data, gradients_every=0)
    model.fit(pipeline, epochs=3, verbose=0)
    from_pipeline = run.evaluate(pipeline, split="test", plots=False)  # reshuffles every pass
    from_arrays = run.evaluate(x, y, split="test_arrays", plots=False)
    with pytest.raises(ValueError, match="repeats without end"):
        run.evaluate(endless, split="endless", plots=False)
    run.finish()
    predicted = model.predict(x, verbose=0).argmax(1)
    assert len(set(predicted.tolist())) > 1
    assert from_pipeline.metrics["accuracy"] == from_arrays.metrics["accuracy"]
    assert from_pipeline.metrics["accuracy"] == pytest.approx(float((predicted == y).mean()))
    assert from_pipeline.confusion_matrix == from_arrays.confusion_matrix


@pytest.mark.keras
def test_a_py_dataset_records_len_batches_and_its_batch_size(
    keras_tf: Any, loader_tracker: mb.Tracker
) -> None:
    keras, _tf = keras_tf
    x, y = _images(70, seed=5)
    x = x.transpose(0, 2, 3, 1)

    class Batches(keras.utils.PyDataset):
        def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
            super().__init__()
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self) -> int:
            return int(np.ceil(len(self.x) / self.batch_size))

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            low = index * self.batch_size
            return self.x[low : low + self.batch_size], self.y[low : low + self.batch_size]

    batches = Batches(x, y, batch_size=16)
    data = mb.Data("quadrants", train=batches)
    split = data.record.splits["train"]
    assert split.source == "keras.PyDataset"
    assert split.steps_per_epoch == len(batches) == 5 and split.batch_size == 16
    assert split.size == 70 and split.x_shape == [70, 8, 8, 1] and split.y_shape == [70]
    model = _keras_convnet(keras)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    run = loader_tracker.track(model, data=data, gradients_every=0)
    model.fit(batches, epochs=1, verbose=0)
    from_batches = run.evaluate(batches, split="test", plots=False)
    from_arrays = run.evaluate(x, y, split="test_arrays", plots=False)
    run.finish()
    assert from_batches.n_samples == 70
    assert from_batches.metrics["accuracy"] == from_arrays.metrics["accuracy"]
    assert from_batches.confusion_matrix == from_arrays.confusion_matrix
