"""Layers from the executed graph, on pytorch/examples' mnist ``Net`` (F.relu, F.max_pool2d,
torch.flatten, F.log_softmax) and a few other real forward styles.

The recorded layers are checked against torch's own numbers: parameter counts from
``numel()``, output shapes from running the layers one by one. The Keras twin is tracked in a
process of its own (TensorFlow and torch in one process can crash).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import modelboard as mb  # noqa: E402
from modelboard.canonical import signature_layers  # noqa: E402

pytestmark = pytest.mark.torch


class Net(nn.Module):
    """pytorch/examples mnist/main.py's Net, as written there."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: Any) -> Any:
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


# (path, type, module, origin, canonical type) in the order Net.forward runs them
NET_LAYERS = [
    ("conv1", "Conv2d", "torch.nn.modules.conv", "module", "conv2d"),
    ("relu_1", "relu", "torch.nn.functional", "function", "activation"),
    ("conv2", "Conv2d", "torch.nn.modules.conv", "module", "conv2d"),
    ("relu_2", "relu", "torch.nn.functional", "function", "activation"),
    ("max_pool2d_1", "max_pool2d", "torch.nn.functional", "function", "maxpool2d"),
    ("dropout1", "Dropout", "torch.nn.modules.dropout", "module", "dropout"),
    ("flatten_1", "flatten", "torch", "function", "flatten"),
    ("fc1", "Linear", "torch.nn.modules.linear", "module", "dense"),
    ("relu_3", "relu", "torch.nn.functional", "function", "activation"),
    ("dropout2", "Dropout", "torch.nn.modules.dropout", "module", "dropout"),
    ("fc2", "Linear", "torch.nn.modules.linear", "module", "dense"),
    ("log_softmax_1", "log_softmax", "torch.nn.functional", "function", "activation"),
]


def _shapes_by_hand(net: Net, x: Any) -> list[list[Any]]:
    """Each step of Net.forward run by hand, batch dimension as None."""
    steps = [
        net.conv1,
        F.relu,
        net.conv2,
        F.relu,
        lambda t: F.max_pool2d(t, 2),
        net.dropout1,
        lambda t: torch.flatten(t, 1),
        net.fc1,
        F.relu,
        net.dropout2,
        net.fc2,
        lambda t: F.log_softmax(t, dim=1),
    ]
    shapes = []
    with torch.no_grad():
        for step in steps:
            x = step(x)
            shapes.append([None, *x.shape[1:]])
    return shapes


def _check_net_layers(network: Any, net: Net, x: Any) -> None:
    layers = network.layers
    got = [
        (layer.path, layer.type, layer.module, layer.origin, layer.canonical_type)
        for layer in layers
    ]
    assert got == NET_LAYERS
    assert [layer.output_shape for layer in layers] == _shapes_by_hand(net, x)
    assert all(layer.depth == 0 for layer in layers)
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in net.named_children()}
    for layer in layers:
        expected = params.get(layer.path, 0)
        assert layer.trainable_params == expected, layer.path
    assert network.total_params == sum(p.numel() for p in net.parameters()) == 1_199_882
    by_path = {layer.path: layer for layer in layers}
    assert by_path["relu_1"].canonical_config == {"activation": "relu", "folded_into": "conv1"}
    assert by_path["conv1"].canonical_config["activation"] == "relu"
    assert by_path["fc1"].canonical_config["activation"] == "relu"
    assert by_path["fc2"].canonical_config["activation"] == "log_softmax"
    assert by_path["max_pool2d_1"].canonical_config == {"pool_size": [2, 2], "strides": [2, 2]}
    assert by_path["dropout1"].canonical_config == {"rate": 0.25}
    assert network.input_shape == [None, 1, 28, 28]
    assert network.output_shape == [None, 10]
    assert "layers" not in network.unknown


def test_mnist_net_with_an_example_input_lists_what_forward_ran(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(3, 1, 28, 28)
    with mb.Tracker(tmp_path) as tracker:
        run = tracker.track(net, example_input=x)
        _check_net_layers(run.network, net, x)
        run.finish()
        _check_net_layers(tracker.get(run.id).network, net, x)
    assert torch._C._len_torch_function_stack() == 0
    assert not net._forward_hooks and not net.conv1._forward_hooks


def _train(net: Net, tracker: mb.Tracker | None) -> tuple[list[float], Any]:
    """mnist/main.py's loop on made-up data: Adadelta(lr=1.0), StepLR(gamma=0.7), NLL loss."""
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(1)
    data = TensorDataset(
        torch.randn(32, 1, 28, 28, generator=generator),
        torch.randint(0, 10, (32,), generator=generator),
    )
    loader = DataLoader(data, batch_size=16, shuffle=False)
    optimizer = torch.optim.Adadelta(net.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    run = None
    if tracker is not None:
        run = tracker.track(net, optimizer=optimizer, scheduler=scheduler)
        assert "layers" in run.network.unknown  # F.relu & co. are not seen yet
        assert [layer.path for layer in run.network.layers] == [
            "conv1",
            "conv2",
            "dropout1",
            "dropout2",
            "fc1",
            "fc2",
        ]
    losses = []
    for _epoch in range(2):
        net.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(net(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    return losses, run


def test_mnist_net_layers_come_from_the_first_training_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    plain = Net()
    torch.manual_seed(0)
    tracked = Net()
    torch.manual_seed(2)
    plain_losses, _ = _train(plain, None)
    with mb.Tracker(tmp_path) as tracker:
        torch.manual_seed(2)
        losses, run = _train(tracked, tracker)
        # the capture ran inside the user's own forward: no extra pass, same training
        assert losses == plain_losses
        assert not tracked._forward_hooks and not tracked._forward_pre_hooks
        assert all(not m._forward_hooks for m in tracked.modules())
        assert torch._C._len_torch_function_stack() == 0
        run.finish()
        stored = tracker.get(run.id).network
    _check_net_layers(stored, tracked, torch.zeros(16, 1, 28, 28))
    assert stored.optimizer is not None


KERAS_TWINS = """
import sys, keras, modelboard as mb
layers = keras.layers
tracker = mb.Tracker(sys.argv[1])
for head in ("log_softmax", "softmax"):
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation=head),
    ])
    with tracker.track(model, name="mnist_keras_" + head) as run:
        print(run.id)
tracker.close()
"""


@pytest.mark.keras
def test_mnist_net_aligns_with_its_keras_twin_layer_for_layer(tmp_path: Path) -> None:
    """Every layer "same". The twin ends in log_softmax as Net does: softmax would be a real
    difference (probabilities against log-probabilities) and the comparison would show it."""
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    done = subprocess.run(
        [sys.executable, "-c", KERAS_TWINS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    keras_id, softmax_id = done.stdout.strip().splitlines()[-2:]
    with mb.Tracker(tmp_path) as tracker:
        example = torch.zeros(2, 1, 28, 28)
        with tracker.track(Net(), name="mnist_torch", example_input=example) as run:
            torch_id = run.id
        comparison = tracker.compare(keras_id, torch_id)
        table = comparison.layers
        assert list(table["type"]) == [
            "conv2d",
            "conv2d",
            "maxpool2d",
            "dropout",
            "flatten",
            "dense",
            "dropout",
            "dense",
        ], table.to_string()
        assert (table["match"] == "same").all(), table.to_string()
        k_label, t_label = comparison.labels
        assert list(table[f"{k_label} params"]) == [320, 18496, 0, 0, 0, 1179776, 0, 1290]
        keras_network = tracker.get(keras_id).network
        torch_network = tracker.get(torch_id).network
        assert keras_network.total_params == torch_network.total_params == 1_199_882
        assert keras_network.signature == torch_network.signature
        # a softmax head is a real difference, and only the last layer shows it
        against_softmax = tracker.compare(softmax_id, torch_id).layers
        assert list(against_softmax["match"]) == ["same"] * 7 + ["differs"]


class Block(nn.Module):
    """A residual block as in torchvision's BasicBlock, written with functional calls."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: Any) -> Any:
        out = self.bn(self.conv(x))
        out += x
        return F.relu(out)


class Residual(nn.Module):
    """Stem, one residual block, ``x.view(x.size(0), -1)`` and a head; an unused layer."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.block = Block(4)
        self.head = nn.Linear(4 * 4 * 4, 3)
        self.unused = nn.Softmax(dim=1)

    def forward(self, x: Any) -> Any:
        x = F.avg_pool2d(torch.tanh(self.stem(x)), kernel_size=2)
        x = self.block(x)
        x = x.view(x.size(0), -1) * 2.0
        return self.head(x)


def test_residual_adds_views_and_nested_calls(tmp_path: Path) -> None:
    model = Residual()
    with mb.Tracker(tmp_path) as tracker:
        run = tracker.track(model, example_input=torch.zeros(5, 1, 8, 8))
        layers = run.network.layers
        got = [(layer.path, layer.canonical_type, layer.depth, layer.origin) for layer in layers]
        assert got == [
            ("stem", "conv2d", 0, "module"),
            ("tanh_1", "activation", 0, "function"),
            ("avg_pool2d_1", "avgpool2d", 0, "function"),
            ("block", "container", 0, "module"),
            ("block.conv", "conv2d", 1, "module"),
            ("block.bn", "batchnorm", 1, "module"),
            ("block.add_1", "add", 1, "function"),
            ("block.relu_1", "activation", 1, "function"),
            ("view_1", "flatten", 0, "function"),
            ("head", "dense", 0, "module"),
            ("unused", "activation", 0, "module"),
        ]
        by_path = {layer.path: layer for layer in layers}
        assert by_path["block.add_1"].output_shape == [None, 4, 4, 4]
        assert by_path["view_1"].output_shape == [None, 64]
        assert by_path["avg_pool2d_1"].canonical_config == {"pool_size": [2, 2], "strides": [2, 2]}
        # the Softmax that forward never calls keeps its place in the record but is no part of
        # the architecture: it folds into nothing and the head still returns logits
        assert by_path["unused"].config["executed"] is False
        assert by_path["unused"].output_shape is None
        assert by_path["head"].canonical_config["activation"] is None
        signature = signature_layers(layers)
        assert [entry["type"] for entry in signature] == [
            "conv2d",
            "avgpool2d",
            "conv2d",
            "batchnorm",
            "add",
            "activation",  # after an add nothing to fold into, as Keras's Add + ReLU
            "flatten",
            "dense",
        ]
        run.finish()


def test_a_plain_sequential_needs_no_example_input(tmp_path: Path) -> None:
    """torch's own containers call no functions: the module listing is complete."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with mb.Tracker(tmp_path) as tracker:
        run = tracker.track(model)
        assert run.network.unknown == {}
        assert [layer.depth for layer in run.network.layers] == [0, 0, 0, 0]
        assert [layer.path for layer in run.network.layers] == ["0", "1", "2", "3"]
        run.finish()


def test_first_batch_under_autocast_and_data_parallel(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = Net()
    wrapped = nn.DataParallel(net)  # on CPU (or one device) it calls the module in this thread
    optimizer = torch.optim.Adadelta(net.parameters(), lr=1.0)
    x = torch.randn(4, 1, 28, 28)
    with mb.Tracker(tmp_path) as tracker:
        run = tracker.track(wrapped, optimizer=optimizer)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output = wrapped(x)
        assert output.dtype == torch.bfloat16
        F.nll_loss(output.float(), torch.zeros(4, dtype=torch.long)).backward()
        optimizer.step()
        _check_net_layers(run.network, net, x)
        run.finish()


def test_a_forward_that_raises_leaves_nothing_behind_and_the_next_one_counts(
    tmp_path: Path,
) -> None:
    net = Net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    with mb.Tracker(tmp_path) as tracker:
        run = tracker.track(net, optimizer=optimizer)
        with pytest.raises(RuntimeError):
            net(torch.zeros(2, 3, 28, 28))  # three channels: conv1 refuses
        assert torch._C._len_torch_function_stack() == 0
        assert not net.conv1._forward_hooks
        assert "layers" in run.network.unknown
        net(torch.zeros(2, 1, 28, 28))
        assert [layer.path for layer in run.network.layers] == [row[0] for row in NET_LAYERS]
        assert not net._forward_pre_hooks
        run.finish()


def test_a_compiled_module_keeps_its_module_listing_and_says_why(tmp_path: Path) -> None:
    net = Net()
    compiled = torch.compile(net)  # never called here: compiling is not what is tested
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    with mb.Tracker(tmp_path) as tracker:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = tracker.track(compiled, optimizer=optimizer)
        assert any("torch.compile" in str(w.message) for w in caught)
        assert "torch.compile" in run.network.unknown["layers"]
        assert not net._forward_pre_hooks
        run.finish()


def test_compiling_after_track_skips_the_capture_and_keeps_torchs_results(
    tmp_path: Path,
) -> None:
    """``torch.compile`` called after ``track()``: the first forward runs under dynamo, where
    the capture would be traced into the graph; it steps aside with a warning."""
    net = Net().eval()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(2, 1, 28, 28)
    with mb.Tracker(tmp_path) as tracker:
        run = tracker.track(net, optimizer=optimizer)
        compiled = torch.compile(net, backend="eager")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            output = compiled(x)
        assert any("torch.compile" in str(w.message) for w in caught)
        with torch.no_grad():
            assert torch.allclose(output, net(x))
        assert torch._C._len_torch_function_stack() == 0
        assert not net._forward_pre_hooks and not net._forward_hooks
        assert "layers" in run.network.unknown
        assert [layer.origin for layer in run.network.layers] == ["module"] * 6
        run.finish()
