"""Reproduction: import path, constructor arguments, source, and mb.reproduce rebuilding."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch
from torch import nn

import modelboard as mb
from modelboard.canonical import signature_layers

pytestmark = pytest.mark.torch


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_a_user_class_is_rebuilt_from_its_attributes(
    torch_tracker: mb.Tracker, models: ModuleType
) -> None:
    module = models.BasicCNN(num_classes=5, dense_units=32)
    run = torch_tracker.track(module)
    info = run.network.reproduce
    assert info["class"] == "modelboard_torch_test_models:BasicCNN"
    assert info["spec"]["args"]["num_classes"] == 5 and info["rebuildable"] is True
    assert "class BasicCNN" in info["source"]
    run.finish()
    rebuilt = mb.reproduce(run.id, torch_tracker)
    assert type(rebuilt) is models.BasicCNN
    assert _count(rebuilt) == _count(module) and rebuilt.num_classes == 5


def test_a_sequential_is_rebuilt_layer_by_layer(torch_tracker: mb.Tracker) -> None:
    module = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding="same", bias=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 3),
        nn.Softmax(dim=1),
    )
    run = torch_tracker.track(module)
    run.finish()
    rebuilt = mb.reproduce(run.id, torch_tracker)
    assert type(rebuilt) is nn.Sequential and _count(rebuilt) == _count(module)
    assert rebuilt[0].bias is None and rebuilt[0].padding == "same"
    again = torch_tracker.track(rebuilt)
    assert signature_layers(again.network.layers) == signature_layers(run.network.layers)
    again.finish()


def test_a_factory_rebuilds_torchvision_models(torch_tracker: mb.Tracker) -> None:
    import torchvision

    module = torchvision.models.resnet18(weights=None, num_classes=5)
    run = torch_tracker.track(
        module, factory=torchvision.models.resnet18, init_args={"num_classes": 5}
    )
    assert run.network.reproduce["factory"] == "torchvision.models.resnet:resnet18"
    run.finish()
    rebuilt = mb.reproduce(run.id, torch_tracker)
    assert type(rebuilt) is type(module) and _count(rebuilt) == _count(module)


def test_missing_constructor_arguments_are_reported(torch_tracker: mb.Tracker) -> None:
    class Opaque(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.body = nn.Linear(width, 2)

    run = torch_tracker.track(Opaque(3))
    assert run.network.reproduce["spec"]["missing"] == ["width"]
    assert run.network.reproduce["rebuildable"] is False
    run.finish()
    with pytest.raises(mb.ReproduceError, match="width"):
        mb.reproduce(run.id, torch_tracker)
    torch.manual_seed(0)
