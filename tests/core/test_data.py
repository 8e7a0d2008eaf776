"""mb.Data: split descriptions, fingerprints, classes, image geometry, augmentations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelboard as mb
from modelboard.data import image_geometry
from modelboard.fingerprint import fingerprint_array


def test_fingerprints_follow_content() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((100, 8, 8))
    b = a.copy()
    assert fingerprint_array(a) == fingerprint_array(b)
    b[57, 3, 4] += 1e-9
    assert fingerprint_array(a) != fingerprint_array(b)
    assert fingerprint_array(a) != fingerprint_array(a.reshape(100, 64))  # shape matters
    assert fingerprint_array(a) != fingerprint_array(a.astype(np.float32))  # dtype matters
    assert fingerprint_array(a[:, ::2]) == fingerprint_array(np.ascontiguousarray(a[:, ::2]))
    assert fingerprint_array(np.array(["x", "y"], dtype=object)) != fingerprint_array(
        np.array(["x", "z"], dtype=object)
    )


def test_splits_shapes_sizes_and_class_counts(plugin_manager) -> None:
    x = np.zeros((6, 8, 8, 1), dtype=np.float32)
    labels = np.array([0, 1, 1, 2, 2, 2])
    one_hot = np.eye(3)[labels]
    data = mb.Data(
        "toy", train=(x, labels), val=(x[:3], one_hot[:3]), test=x, plugin_manager=plugin_manager
    )
    train, val, test = (data.record.splits[k] for k in ("train", "val", "test"))
    assert (train.size, train.x_shape, train.y_shape) == (6, [6, 8, 8, 1], [6])
    assert train.x_dtype == "float32" and train.y_dtype == labels.dtype.name
    assert train.class_counts == {"0": 1, "1": 2, "2": 3}
    assert val.class_counts == {"0": 1, "1": 2}
    assert test.y_shape is None and test.class_counts is None
    assert data.record.num_classes == 3
    assert data.record.image == {"height": 8, "width": 8, "channels": 1, "layout": "hwc"}
    same = mb.Data(
        "toy", train=(x, labels), val=(x[:3], one_hot[:3]), test=x, plugin_manager=plugin_manager
    )
    assert same.record.fingerprint == data.record.fingerprint
    changed = labels.copy()
    changed[0] = 2
    other = mb.Data("toy", train=(x, changed), plugin_manager=plugin_manager)
    assert other.record.splits["train"].fingerprint != train.fingerprint


def test_regression_targets_have_no_class_counts(plugin_manager) -> None:
    x = np.random.default_rng(0).random((5, 3))
    data = mb.Data("reg", train=(x, x[:, 0] * 3.3), plugin_manager=plugin_manager)
    assert data.record.splits["train"].class_counts is None
    assert data.record.num_classes is None


def test_dataframes_give_feature_names(plugin_manager) -> None:
    frame = pd.DataFrame({"age": [1, 2], "income": [3.0, 4.0]})
    data = mb.Data("tab", train=(frame, pd.Series([0, 1])), plugin_manager=plugin_manager)
    assert data.record.features == ["age", "income"]
    assert data.record.splits["train"].source == "dataframe"
    explicit = mb.Data(
        "tab", train=(frame, [0, 1]), features=["a", "b"], plugin_manager=plugin_manager
    )
    assert explicit.record.features == ["a", "b"]


def test_image_geometry_layouts() -> None:
    assert image_geometry([10, 3, 32, 28]) == {
        "height": 32,
        "width": 28,
        "channels": 3,
        "layout": "chw",
    }
    assert image_geometry([10, 28, 32]) == {
        "height": 28,
        "width": 32,
        "channels": 1,
        "layout": "hw",
    }
    assert image_geometry([10, 5]) is None


def test_augmentation_settings_and_bad_input(plugin_manager) -> None:
    x = np.zeros((2, 4))
    data = mb.Data(
        "d",
        train=x,
        augmentations={"rotation_range": 90.0, "zoom_range": 0.2},
        plugin_manager=plugin_manager,
    )
    (aug,) = data.record.augmentations
    assert aug.params == {"rotation_range": 90.0, "zoom_range": 0.2}
    with pytest.raises(TypeError, match="cannot describe split 'train'"):
        mb.Data("d", train=object(), plugin_manager=plugin_manager)
    with pytest.raises(TypeError, match="no adapter describes augmentations"):
        mb.Data("d", train=x, augmentations=object(), plugin_manager=plugin_manager)
    with pytest.raises(ValueError, match="non-empty name"):
        mb.Data("", train=x, plugin_manager=plugin_manager)
