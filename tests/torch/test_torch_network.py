"""The network record: canonical layers of basic_cnn, torchvision totals, shapes, sharing."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

import modelboard as mb
from modelboard.canonical import architecture_signature, signature_layers

pytestmark = pytest.mark.torch


def _conv(filters: int, params: int) -> dict[str, Any]:
    config = {
        "filters": filters,
        "kernel_size": [3, 3],
        "strides": [1, 1],
        "padding": "same",
        "dilation": [1, 1],
        "groups": 1,
        "use_bias": True,
        "activation": "relu",
    }
    return {"type": "conv2d", "config": config, "params": params}


_POOL = {"type": "maxpool2d", "config": {"pool_size": [2, 2], "strides": [2, 2]}, "params": 0}

# The Keras basic_cnn on (8, 8, 1), written out from Keras's own counts:
# Conv2D(32, 3) on 1 channel: 3*3*1*32 + 32 = 320; on 32: 3*3*32*64 + 64 = 18,496;
# on 64: 3*3*64*128 + 128 = 73,856; three 2x2 pools take 8x8 to 1x1, Flatten gives 128;
# Dense(64): 128*64 + 64 = 8,256; Dense(10): 64*10 + 10 = 650. Total 101,578.
KERAS_BASIC_CNN = [
    _conv(32, 320),
    _POOL,
    _conv(64, 18496),
    _POOL,
    _conv(128, 73856),
    _POOL,
    {"type": "flatten", "config": {}, "params": 0},
    {
        "type": "dense",
        "config": {"units": 64, "use_bias": True, "activation": "relu"},
        "params": 8256,
    },
    {"type": "dropout", "config": {"rate": 0.3}, "params": 0},
    {
        "type": "dense",
        "config": {"units": 10, "use_bias": True, "activation": "softmax"},
        "params": 650,
    },
]


def test_basic_cnn_has_the_keras_twins_canonical_layers(
    torch_tracker: mb.Tracker, models: ModuleType
) -> None:
    module = models.BasicCNN()
    run = torch_tracker.track(module, example_input=torch.zeros(2, 1, 8, 8))
    network = run.network
    assert network is not None
    assert signature_layers(network.layers) == KERAS_BASIC_CNN
    assert network.total_params == 101578 == sum(p.numel() for p in module.parameters())
    assert network.output_shape == [None, 10]
    assert network.signature == architecture_signature(network.layers)
    run.finish()


def test_a_sequential_with_string_padding_lines_up_too(torch_tracker: mb.Tracker) -> None:
    """The demo's style (padding="same", one Sequential) gives the same list and signature."""
    layers: list[nn.Module] = []
    channels = 1
    for filters in (32, 64, 128):
        layers += [nn.Conv2d(channels, filters, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2)]
        channels = filters
    layers += [nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 10)]
    layers.append(nn.Softmax(dim=1))
    run = torch_tracker.track(nn.Sequential(*layers))
    assert signature_layers(run.network.layers) == KERAS_BASIC_CNN
    run.finish()


def test_logits_output_differs_only_in_the_last_activation(torch_tracker: mb.Tracker) -> None:
    module = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 3)
    )
    run = torch_tracker.track(module)
    last = signature_layers(run.network.layers)[-1]
    assert last == {"type": "dense", "config": {"units": 3, "use_bias": True}, "params": 771}
    run.finish()


def test_conv_padding_and_pool_configs_are_normalised(torch_tracker: mb.Tracker) -> None:
    module = nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=2, padding=0, bias=False),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2),
        nn.Conv2d(8, 8, 3, stride=2, padding=1),
        nn.AvgPool2d(3, stride=1, padding=1),
        nn.BatchNorm2d(8),
    )
    run = torch_tracker.track(module, example_input=torch.zeros(1, 3, 16, 16))
    configs = [layer["config"] for layer in signature_layers(run.network.layers)]
    assert configs[0]["padding"] == "valid" and configs[0]["use_bias"] is False
    assert configs[0]["strides"] == [2, 2]
    assert configs[1]["padding"] == "same" and configs[1]["dilation"] == [2, 2]
    assert configs[1]["groups"] == 2
    assert configs[2]["padding"] == [1, 1]  # stride 2: not Keras's "same"
    assert configs[3] == {"pool_size": [3, 3], "strides": [1, 1], "padding": [1, 1]}
    assert configs[4] == {"features": 8}
    batchnorm = run.network.layers[-1]
    assert batchnorm.config["buffer_elements"] == 8 + 8 + 1  # running mean, var, batches
    assert run.network.layers[0].output_shape == [None, 8, 6, 6]
    run.finish()


@pytest.mark.parametrize(
    ("builder", "kwargs"),
    [("resnet18", {"num_classes": 5}), ("vgg11", {}), ("alexnet", {})],
)
def test_torchvision_totals_equal_torchs_own(
    torch_tracker: mb.Tracker, builder: str, kwargs: dict[str, Any]
) -> None:
    import torchvision

    module = getattr(torchvision.models, builder)(weights=None, **kwargs)
    run = torch_tracker.track(module)
    network = run.network
    own = sum(p.numel() for p in module.parameters())
    assert network.total_params == own
    assert network.trainable_params == own and network.non_trainable_params == 0
    leaves = [layer for layer in network.layers if not layer.is_container]
    assert sum(layer.trainable_params for layer in leaves) == own
    run.finish()


def test_resnet18_layers_have_output_shapes(torch_tracker: mb.Tracker) -> None:
    import torchvision

    module = torchvision.models.resnet18(weights=None, num_classes=5)
    module.train()
    bn = module.bn1
    before = bn.running_mean.clone()
    run = torch_tracker.track(module, example_input=torch.rand(2, 3, 32, 32))
    layers = {layer.path: layer for layer in run.network.layers}
    assert layers["conv1"].output_shape == [None, 64, 16, 16]
    assert layers["layer4.1.conv2"].output_shape == [None, 512, 1, 1]
    assert layers["fc"].output_shape == [None, 5]
    assert all(layer.output_shape is not None for layer in run.network.layers)
    assert run.network.input_shape == [None, 3, 32, 32]
    # the shape pass ran in eval mode and left the module as it was
    assert module.training and torch.equal(bn.running_mean, before)
    assert not any(m._forward_hooks for m in module.modules())
    run.finish()


def test_frozen_parameters_are_non_trainable(torch_tracker: mb.Tracker) -> None:
    module = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    for p in module[0].parameters():
        p.requires_grad_(False)
    run = torch_tracker.track(module)
    assert (run.network.trainable_params, run.network.non_trainable_params) == (8, 15)
    assert run.network.layers[0].non_trainable_params == 15
    run.finish()


def test_shared_submodule_moduledict_and_tied_weight_count_once(
    torch_tracker: mb.Tracker, models: ModuleType
) -> None:
    module = models.SharedTower()
    run = torch_tracker.track(module, example_input=torch.rand(4, 6))
    network = run.network
    unique = sum(p.numel() for p in module.parameters())
    assert unique == 42 + 42 + 21  # shared Linear once, right tower, head a (b's weight is a's)
    assert network.total_params == unique
    paths = [layer.path for layer in network.layers]
    assert "towers.left" not in paths  # the same Linear as "shared": listed once
    leaves = [layer for layer in network.layers if not layer.is_container]
    assert sum(layer.trainable_params for layer in leaves) == unique
    tied = next(layer for layer in network.layers if layer.path == "heads.b")
    assert tied.trainable_params == 0 and tied.config["shared_params"] == 18
    assert network.output_shape == [None, 3]
    run.finish()


def test_lstm_is_described(torch_tracker: mb.Tracker, models: ModuleType) -> None:
    module = models.SequenceClassifier()
    tokens = torch.randint(0, 20, (3, 7))
    run = torch_tracker.track(module, example_input=tokens)
    network = run.network
    assert network.total_params == sum(p.numel() for p in module.parameters())
    lstm = next(layer for layer in network.layers if layer.path == "lstm")
    assert lstm.canonical_type == "lstm"
    assert lstm.canonical_config == {"units": 8, "layers": 2, "bidirectional": True}
    assert lstm.trainable_params == sum(p.numel() for p in module.lstm.parameters())
    # only a first dimension equal to the batch reads None: h and c are (layers*2, batch, 8)
    assert lstm.output_shape == [[None, 7, 16], [[4, 3, 8], [4, 3, 8]]]
    embed = next(layer for layer in network.layers if layer.path == "embed")
    assert embed.canonical_config == {"input_dim": 20, "output_dim": 5}
    run.finish()


def test_wrappers_are_unwrapped(torch_tracker: mb.Tracker, models: ModuleType) -> None:
    inner = models.BasicCNN()
    for wrapped in (nn.DataParallel(inner), torch.compile(inner)):
        run = torch_tracker.track(wrapped)
        assert run.network.architecture == "BasicCNN"
        assert signature_layers(run.network.layers) == KERAS_BASIC_CNN
        assert run.network.model_config["wrapper"] == type(wrapped).__name__
        run.finish()


def test_distributed_data_parallel_is_unwrapped(
    torch_tracker: mb.Tracker, models: ModuleType, tmp_path: Path
) -> None:
    import torch.distributed as dist

    init = f"file://{tmp_path / 'ddp_init'}"
    dist.init_process_group("gloo", init_method=init, rank=0, world_size=1)
    try:
        wrapped = nn.parallel.DistributedDataParallel(models.BasicCNN())
        run = torch_tracker.track(wrapped, example_input=torch.zeros(1, 1, 8, 8))
        assert run.network.architecture == "BasicCNN"
        assert run.network.total_params == 101578
        run.finish()
    finally:
        dist.destroy_process_group()


def test_optimizer_and_loss_are_recorded(torch_tracker: mb.Tracker, models: ModuleType) -> None:
    module = models.BasicCNN()
    head = list(module.classifier.parameters())
    body = list(module.features.parameters())
    optimizer = torch.optim.AdamW(
        [{"params": body}, {"params": head, "lr": 0.01, "weight_decay": 0.1}],
        lr=0.001,
        betas=(0.8, 0.99),
    )
    run = torch_tracker.track(module, optimizer=optimizer, loss=nn.NLLLoss(), batch_size=32)
    record = run.network.optimizer
    assert record.name == "adamw" and record.class_name == "AdamW"
    assert record.learning_rate == 0.001
    assert [g["lr"] for g in record.param_groups] == [0.001, 0.01]
    assert record.param_groups[1]["weight_decay"] == 0.1
    assert record.param_groups[0]["betas"] == [0.8, 0.99]
    assert record.param_groups[1]["num_params"] == 8256 + 650
    assert run.network.loss == "NLLLoss" and run.network.batch_size == 32
    run.finish()
    stored = torch_tracker.get(run.id).network
    assert stored.optimizer.param_groups == record.param_groups


def test_layer_vocabulary_short_type_module_path_and_depth_zero_at_the_top(
    torch_tracker: mb.Tracker, models: ModuleType
) -> None:
    module = models.BasicCNN()
    run = torch_tracker.track(module, example_input=torch.zeros(2, 1, 8, 8))
    layers = {layer.path: layer for layer in run.network.layers}
    assert layers["features"].depth == 0 and layers["features"].is_container
    assert layers["features.0"].depth == 1
    assert layers["features.0"].type == "Conv2d"
    assert layers["features.0"].module == type(module.features[0]).__module__
    assert {layer.origin for layer in run.network.layers} == {"module"}
    run.finish()
