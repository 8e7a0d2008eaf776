"""``run.evaluate(loader)``: labels come from the loader, batch by batch, in its order; a
loader without labels, a loader with ``y=`` and an infinite loader are refused clearly."""

from __future__ import annotations

import numpy as np
import pytest

import modelboard as mb

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


def _model_and_data() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.rand(45, 5)
    model = nn.Linear(5, 3)
    y = model(x).argmax(1)
    y[::4] = (y[::4] + 1) % 3  # some wrong, so that order matters
    return model, x, y


def test_a_shuffling_loader_scores_as_its_arrays(tracker: mb.Tracker) -> None:
    model, x, y = _model_and_data()
    run = tracker.track(model, gradients_every=0)
    shuffled = DataLoader(TensorDataset(x, y), batch_size=10, shuffle=True)
    from_loader = run.evaluate(shuffled, split="test", plots=False)
    from_arrays = run.evaluate(x.numpy(), y.numpy(), split="arrays", plots=False)
    run.finish()
    assert from_loader.n_samples == 45
    assert from_loader.metrics.keys() == from_arrays.metrics.keys()
    for name, value in from_arrays.metrics.items():  # the same up to the order of summing
        wanted = value if value is None else pytest.approx(value, rel=1e-12)
        assert from_loader.metrics[name] == wanted, name
    assert from_loader.confusion_matrix == from_arrays.confusion_matrix
    assert from_loader.inputs["prediction_source"] == "model"
    expected = float((model(x).argmax(1) == y).float().mean())
    assert from_loader.metrics["accuracy"] == pytest.approx(expected)
    assert expected < 1.0


def test_bad_loaders_are_refused_and_nothing_is_stored(tracker: mb.Tracker) -> None:
    model, x, y = _model_and_data()
    run = tracker.track(model, gradients_every=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=10)
    with pytest.raises(ValueError, match="carries the labels"):
        run.evaluate(loader, y.numpy(), plots=False)
    inputs_only = DataLoader(TensorDataset(x), batch_size=10)
    with pytest.raises(ValueError, match="batch 0 of the DataLoader carries no labels"):
        run.evaluate(inputs_only, plots=False)
    with pytest.raises(TypeError, match="gives samples, not batches: wrap it in a DataLoader"):
        run.evaluate(TensorDataset(x, y), plots=False)
    np.testing.assert_allclose(
        run.predict(inputs_only), torch.softmax(model(x), 1).detach().numpy(), rtol=1e-5
    )
    run.finish()
    assert tracker.get(run.id).evaluations == {}
