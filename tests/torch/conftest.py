"""Fixtures of the PyTorch adapter's tests: torch itself, the test models, a tracker."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")

import modelboard as mb  # noqa: E402

_MODELS_NAME = "modelboard_torch_test_models"


def _load_models() -> ModuleType:
    """tests/torch/models.py under a unique name (another folder's ``models`` cannot shadow it)."""
    if _MODELS_NAME in sys.modules:
        return sys.modules[_MODELS_NAME]
    spec = importlib.util.spec_from_file_location(
        _MODELS_NAME, Path(__file__).with_name("models.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODELS_NAME] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _few_threads() -> Iterator[None]:
    """Two threads at most: the test machine's cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)


@pytest.fixture
def models() -> ModuleType:
    """The test models module (BasicCNN, SharedTower, SequenceClassifier)."""
    return _load_models()


@pytest.fixture
def torch_tracker(tmp_path: Path) -> Iterator[mb.Tracker]:
    """A tracker on a fresh store with a fresh plugin manager."""
    with mb.Tracker(tmp_path / "store", plugin_manager=mb.create_plugin_manager()) as tracker:
        yield tracker


@pytest.fixture
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """A small, fixed batch of 8x8x1 images (channels first) and labels of 10 classes."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 8, 8, generator=generator)
    y = torch.randint(0, 10, (64,), generator=generator)
    return x, y
