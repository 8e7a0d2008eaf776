"""Data: tensors, TensorDataset, Subset, DataLoader, other datasets, torchvision transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

import modelboard as mb

pytestmark = pytest.mark.torch


@pytest.fixture
def plugins() -> object:
    return mb.create_plugin_manager()


def test_tensors_are_described_like_their_numpy_twins(plugins: object) -> None:
    x = torch.rand(20, 1, 8, 8)
    y = torch.arange(20) % 4
    as_tensors = mb.Data("digits", train=(x, y), plugin_manager=plugins).record
    as_arrays = mb.Data("digits", train=(x.numpy(), y.numpy()), plugin_manager=plugins).record
    split = as_tensors.splits["train"]
    assert split.source == "tensor"
    assert split.x_shape == [20, 1, 8, 8] and split.y_shape == [20]
    assert split.x_dtype == "float32" and split.y_dtype == "int64"
    assert split.class_counts == {"0": 5, "1": 5, "2": 5, "3": 5}
    assert split.fingerprint == as_arrays.splits["train"].fingerprint
    assert as_tensors.image == {"height": 8, "width": 8, "channels": 1, "layout": "chw"}
    x[0, 0, 0, 0] += 1.0
    changed = mb.Data("digits", train=(x, y), plugin_manager=plugins).record
    assert changed.splits["train"].fingerprint != split.fingerprint


def test_dataloader_records_its_settings(plugins: object) -> None:
    x, y = torch.rand(30, 1, 8, 8), torch.arange(30) % 3
    dataset = TensorDataset(x, y)
    loader = DataLoader(dataset, batch_size=8, shuffle=True, drop_last=True)
    plain = DataLoader(dataset, batch_size=8)
    record = mb.Data("d", train=loader, val=plain, plugin_manager=plugins).record
    train, val = record.splits["train"], record.splits["val"]
    assert train.source == "dataloader" and train.size == 30
    assert train.details["batch_size"] == 8 and train.details["shuffle"] is True
    assert train.details["drop_last"] is True and train.details["sampler"] == "RandomSampler"
    assert train.details["num_workers"] == 0 and train.details["batches"] == 3
    assert val.details["shuffle"] is False and val.details["batches"] == 4
    same = mb.Data("d", train=(x, y), plugin_manager=plugins).record.splits["train"]
    assert train.fingerprint == same.fingerprint  # the loader's data is the tensors' data
    assert train.class_counts == {"0": 10, "1": 10, "2": 10}


def test_subset_and_computed_datasets(plugins: object) -> None:
    x, y = torch.rand(10, 3), torch.arange(10) % 2
    full = TensorDataset(x, y)
    first = Subset(full, list(range(6)))
    other = Subset(full, list(range(4, 10)))

    class Squares(Dataset):
        def __len__(self) -> int:
            return 5

        def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
            return torch.full((2, 4), float(i * i)), i % 2

    record = mb.Data("d", train=first, val=other, test=Squares(), plugin_manager=plugins).record
    assert record.splits["train"].size == 6 and record.splits["train"].x_shape == [6, 3]
    assert record.splits["train"].fingerprint != record.splits["val"].fingerprint
    computed = record.splits["test"]
    assert computed.source == "dataset" and computed.size == 5
    assert computed.x_shape == [5, 2, 4] and computed.y_shape == [5]
    assert computed.fingerprint is None and "unavailable" in computed.details["fingerprint"]


def test_torchvision_style_dataset_is_fingerprinted_from_data_and_targets(plugins: object) -> None:
    class Images(Dataset):
        def __init__(self) -> None:
            self.data = np.arange(48, dtype=np.uint8).reshape(3, 4, 4)
            self.targets = [0, 1, 1]
            self.transform = None

        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            return self.data[i], self.targets[i]

    split = mb.Data("img", train=Images(), plugin_manager=plugins).record.splits["train"]
    expected = mb.Data("img", train=(Images().data, np.array([0, 1, 1])), plugin_manager=plugins)
    assert split.fingerprint == expected.record.splits["train"].fingerprint
    assert split.class_counts == {"0": 1, "1": 2}


def test_transform_pipelines_v1_and_v2(plugins: object) -> None:
    from torchvision import transforms as v1
    from torchvision.transforms import v2

    old = v1.Compose(
        [
            v1.RandomRotation(90),
            v1.RandomAffine(0, translate=(0.1, 0.1), scale=(0.8, 1.2)),
            v1.RandomApply([v1.ColorJitter(brightness=0.2)], p=0.3),
            v1.Normalize((0.5,), (0.25,)),
        ]
    )
    new = v2.Compose([v2.RandomHorizontalFlip(p=0.25), v2.RandomResizedCrop(8, scale=(0.5, 1.0))])
    record = mb.Data(
        "aug", train=np.zeros((2, 8, 8)), augmentations=[old, new], plugin_manager=plugins
    ).record
    types = [a.type for a in record.augmentations]
    assert types == [
        "RandomRotation",
        "RandomAffine",
        "RandomApply",
        "Normalize",
        "RandomHorizontalFlip",
        "RandomResizedCrop",
    ]
    rotation, affine, apply, normalize, flip, crop = record.augmentations
    assert rotation.source == "torchvision.transforms" and rotation.params["degrees"] == [
        -90.0,
        90.0,
    ]
    assert affine.params["translate"] == [0.1, 0.1] and affine.params["scale"] == [0.8, 1.2]
    assert apply.params["p"] == 0.3
    assert apply.params["transforms"][0]["type"] == "ColorJitter"
    assert normalize.params["mean"] == [0.5] and normalize.params["std"] == [0.25]
    assert flip.source == "torchvision.transforms.v2" and flip.params["p"] == 0.25
    assert crop.params["size"] == [8, 8] and crop.params["scale"] == [0.5, 1.0]
    assert isinstance(crop.params["interpolation"], (int, str))
