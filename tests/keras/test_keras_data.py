"""Data the adapter describes: ImageDataGenerator, its iterators, tf.data, preprocessing layers."""

from __future__ import annotations

import inspect
from typing import Any

import keras
import pytest

import modelboard as mb

L = keras.layers
BACKEND = keras.backend.backend()
SEED_AUGMENTATIONS = {
    "featurewise_center": True,
    "featurewise_std_normalization": True,
    "rotation_range": 90,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
    "zoom_range": 0.2,
}
tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.data needs the TensorFlow backend")


def test_image_data_generator_records_every_constructor_argument(
    image_data_generator: Any,
) -> None:
    generator = image_data_generator(**SEED_AUGMENTATIONS, rescale=1 / 16, fill_mode="reflect")
    data = mb.Data("digits", augmentations=generator)
    (record,) = data.record.augmentations
    assert record.source == "keras.ImageDataGenerator" and record.type == "ImageDataGenerator"
    arguments = set(inspect.signature(type(generator).__init__).parameters) - {"self"}
    assert len(arguments) >= 21 and arguments <= set(record.params)
    assert {k: record.params[k] for k in SEED_AUGMENTATIONS} == SEED_AUGMENTATIONS
    assert record.params["rescale"] == pytest.approx(1 / 16)
    assert record.params["fill_mode"] == "reflect"
    assert record.params["horizontal_flip"] is False and record.params["fitted"] is False


def test_fit_on_a_generator_flow_records_its_batch_size(
    tracker: Any, basic_cnn: Any, digits: dict, image_data_generator: Any
) -> None:
    generator = image_data_generator(rotation_range=10)
    flow = generator.flow(digits["x_train"][:64], digits["y_train"][:64], batch_size=16)
    data = mb.Data("digits", train=flow, augmentations=flow)
    split = data.record.splits["train"]
    assert split.source == "keras.ImageDataGenerator.flow"
    assert split.x_shape == [64, 8, 8, 1] and split.y_shape == [64, 10]
    assert split.details["batch_size"] == 16 and split.fingerprint
    assert data.record.augmentations[0].params["rotation_range"] == 10
    model = basic_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    run = tracker.track(model, data=data, gradients_every=0)
    model.fit(flow, epochs=1, verbose=0)
    run.finish()
    network = tracker.get(run.id).network
    assert network.batch_size == 16 and network.steps_per_epoch == 4


def test_preprocessing_layers_inside_the_model_join_the_data_record(
    tracker: Any, digits: dict
) -> None:
    augment = keras.Sequential(
        [L.RandomRotation(0.1), L.RandomTranslation(0.1, 0.1), L.RandomZoom(0.2)], name="augment"
    )
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Rescaling(1.0 / 16),
            augment,
            L.Flatten(),
            L.Dense(10, activation="softmax"),
        ]
    )
    data = mb.Data("digits", train=(digits["x_train"], digits["y_train"]))
    run = tracker.track(model, data=data)
    run.finish()
    stored = tracker.get(run.id)
    kinds = [a.type for a in stored.data.augmentations]
    assert kinds == ["Rescaling", "RandomRotation", "RandomTranslation", "RandomZoom"]
    assert {a.source for a in stored.data.augmentations} == {"keras.layers"}
    assert stored.data.augmentations[1].params["factor"] == [-0.1, 0.1]
    types = [layer.canonical_type for layer in stored.network.layers]
    assert types.count("augmentation") == 3 and "rescaling" in types
    direct = mb.Data("digits", augmentations=augment).record.augmentations
    assert [a.type for a in direct] == kinds[1:]


@tf_only
def test_tf_data_dataset_split_has_element_spec_and_cardinality(
    tracker: Any, basic_cnn: Any, digits: dict
) -> None:
    import tensorflow as tf

    x, y = digits["x_train"][:100], digits["y_train"][:100]
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(100).batch(32).prefetch(2)
    data = mb.Data("digits", train=dataset, val=(digits["x_val"], digits["y_val"]))
    split = data.record.splits["train"]
    assert split.source == "tf.data" and split.size == 100
    assert split.x_shape == [100, 8, 8, 1] and split.y_shape == [100, 10]
    assert split.x_dtype == "float32"
    assert split.details["cardinality"] == 4 and split.details["batch_size"] == 32
    assert split.details["element_spec"][0] == {
        "shape": [None, 8, 8, 1],
        "dtype": "float32",
        "kind": "TensorSpec",
    }
    assert data.record.image == {"height": 8, "width": 8, "channels": 1, "layout": "hwc"}
    model = basic_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    run = tracker.track(model, data=data, gradients_every=0)
    model.fit(dataset, epochs=1, verbose=0)
    run.finish()
    assert tracker.get(run.id).network.batch_size == 32


@tf_only
def test_tensorflow_tensors_and_unbatched_datasets(digits: dict) -> None:
    import tensorflow as tf

    x = tf.constant(digits["x_val"])
    data = mb.Data("digits", train=(x, digits["y_val"]))
    split = data.record.splits["train"]
    assert split.source == "tf.tensor" and split.x_shape == [397, 8, 8, 1]
    assert sum(split.class_counts.values()) == 397
    numpy_split = mb.Data("digits", train=(digits["x_val"], digits["y_val"])).record.splits
    assert split.fingerprint == numpy_split["train"].fingerprint
    endless = tf.data.Dataset.from_tensor_slices(digits["x_val"]).repeat()
    spec = mb.Data("endless", train=endless).record.splits["train"]
    assert spec.details["cardinality_meaning"] == "infinite" and spec.size is None
    assert spec.x_shape == [None, 8, 8, 1] and spec.y_shape is None
