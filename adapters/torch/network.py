"""The network record of a torch module: layers, canonical configs, parameters, output shapes.

Layers are the entries of ``named_modules()`` below the root (a submodule reached by two paths is
listed once, at its first path). A module with children is a container (its counts cover its
subtree) except ``MultiheadAttention``, a layer whose own submodule is folded into it. Leaf
layers count their parameters; a parameter shared by two leaves counts at the first, and the
other's ``config["shared_params"]`` says how many it shares. Totals count each parameter once.
Output shapes come from one ``no_grad`` forward pass in eval mode with ``example_input``; the
batch dimension (the example's first dimension) is written ``None``, as Keras writes it.

The optimizers and learning-rate schedulers of the training loop are described by
``optimizers.optimizer_records``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import module_device, plain_value, unwrap_module
from modelboard.adapters.torch.optimizers import optimizer_records
from modelboard.adapters.torch.reproduce import captured_init_args, reproduce_info
from modelboard.canonical import (
    architecture_signature,
    as_int_list,
    canonical_activation,
    canonical_type,
    fold_activations,
)
from modelboard.records import LayerRecord, NetworkRecord

if TYPE_CHECKING:
    import torch

__all__ = [
    "describe_network",
    "canonical_layer_config",
    "output_shapes",
    "loss_name",
]


_LEAVES_WITH_CHILDREN = ("MultiheadAttention",)
_MAX_REPR_CHARS = 20_000


def _conv_padding(module: Any, dims: int) -> Any:
    padding = module.padding
    if isinstance(padding, str):
        return padding
    pads = as_int_list(padding, dims)
    if all(p == 0 for p in pads):
        return "valid"
    kernel = as_int_list(module.kernel_size, dims)
    dilation = as_int_list(module.dilation, dims)
    strides = as_int_list(module.stride, dims)
    transposed = getattr(module, "transposed", False)
    same = [d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True)]
    odd = all(d * (k - 1) % 2 == 0 for k, d in zip(kernel, dilation, strict=True))
    if not transposed and odd and all(s == 1 for s in strides) and pads == same:
        return "same"
    return pads


def canonical_layer_config(module: torch.nn.Module) -> dict[str, Any]:
    """The key hyperparameters of one module under the names of ``modelboard.canonical``."""
    from torch import nn

    kind = canonical_type(type(module).__name__)
    if isinstance(module, nn.modules.conv._ConvNd):
        dims = len(module.kernel_size)
        return {
            "filters": module.out_channels,
            "kernel_size": as_int_list(module.kernel_size, dims),
            "strides": as_int_list(module.stride, dims),
            "padding": _conv_padding(module, dims),
            "dilation": as_int_list(module.dilation, dims),
            "groups": module.groups,
            "use_bias": module.bias is not None,
            "activation": None,
        }
    if isinstance(module, nn.Linear):
        use_bias = module.bias is not None
        return {"units": module.out_features, "use_bias": use_bias, "activation": None}
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        kernel = module.kernel_size
        if kind[-2:-1].isdigit():
            dims = int(kind[-2])
        else:
            dims = len(kernel) if isinstance(kernel, (tuple, list)) else 2
        config: dict[str, Any] = {
            "pool_size": as_int_list(kernel, dims),
            "strides": as_int_list(module.stride if module.stride is not None else kernel, dims),
        }
        padding = as_int_list(module.padding, dims)
        if not (isinstance(padding, list) and all(p == 0 for p in padding)):
            config["padding"] = padding
        return config
    if isinstance(
        module, (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)
    ):
        return {"output_size": plain_value(module.output_size)}
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return {"rate": float(module.p)}
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return {"features": module.num_features}
    if isinstance(module, nn.LayerNorm):
        return {"features": list(module.normalized_shape)}
    if isinstance(module, nn.GroupNorm):
        return {"features": module.num_channels, "groups": module.num_groups}
    if isinstance(module, nn.RNNBase):
        return {
            "units": module.hidden_size,
            "layers": module.num_layers,
            "bidirectional": bool(module.bidirectional),
        }
    if isinstance(module, nn.Embedding):
        return {"input_dim": module.num_embeddings, "output_dim": module.embedding_dim}
    if isinstance(module, nn.MultiheadAttention):
        return {"heads": module.num_heads, "embed_dim": module.embed_dim}
    if kind == "activation":
        return {"activation": canonical_activation(type(module).__name__)}
    return {}


def _batch_size(example: Any) -> int | None:
    import torch

    if isinstance(example, torch.Tensor):
        return int(example.shape[0]) if example.dim() else None
    if isinstance(example, (tuple, list)) and example:
        return _batch_size(example[0])
    if isinstance(example, dict) and example:
        return _batch_size(next(iter(example.values())))
    return None


def _shape_of(value: Any, batch: int | None) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        shape: list[Any] = list(value.shape)
        if shape and batch is not None and shape[0] == batch:
            shape[0] = None
        return shape
    if isinstance(value, (tuple, list)):
        return [_shape_of(v, batch) for v in value]
    if isinstance(value, dict):
        return {str(k): _shape_of(v, batch) for k, v in value.items()}
    return None


def _to_device(value: Any, device: torch.device | None) -> Any:
    import numpy as np
    import torch

    if isinstance(value, np.ndarray):
        value = torch.as_tensor(value)
        if value.is_floating_point():
            value = value.float()
    if isinstance(value, torch.Tensor):
        return value.to(device) if device is not None and value.device != device else value
    if isinstance(value, tuple):
        return tuple(_to_device(v, device) for v in value)
    if isinstance(value, list):
        return [_to_device(v, device) for v in value]
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def call_module(module: torch.nn.Module, inputs: Any) -> Any:
    """``module(inputs)``; a tuple or list is passed as positional arguments, a dict as keywords."""
    if isinstance(inputs, dict):
        return module(**inputs)
    if isinstance(inputs, (tuple, list)):
        return module(*inputs)
    return module(inputs)


def output_shapes(module: torch.nn.Module, example_input: Any) -> tuple[dict[str, Any], Any, Any]:
    """Output shape per module path (root: ``""``), input shape and output shape, from one
    forward pass under ``no_grad`` in eval mode; every hook is removed and modes restored."""
    import torch

    example = _to_device(example_input, module_device(module))
    batch = _batch_size(example)
    shapes: dict[str, Any] = {}
    handles = []
    modes = {m: m.training for m in module.modules()}

    def make_hook(path: str) -> Any:
        def hook(_mod: Any, _inputs: Any, output: Any) -> None:
            if path not in shapes:
                shapes[path] = _shape_of(output, batch)

        return hook

    try:
        for path, sub in module.named_modules():
            handles.append(sub.register_forward_hook(make_hook(path)))
        module.eval()
        with torch.no_grad():
            call_module(module, example)
    finally:
        for handle in handles:
            handle.remove()
        for sub, mode in modes.items():
            sub.training = mode
    return shapes, _shape_of(example, batch), shapes.get("")


def _numel(param: Any) -> int:
    from torch.nn.parameter import UninitializedParameter

    if isinstance(param, UninitializedParameter):
        return 0
    return int(param.numel())


def _count(params: Any) -> tuple[int, int]:
    trainable = frozen = 0
    for p in params:
        if p.requires_grad:
            trainable += _numel(p)
        else:
            frozen += _numel(p)
    return trainable, frozen


def _layers(module: torch.nn.Module, shapes: dict[str, Any]) -> list[LayerRecord]:
    layers: list[LayerRecord] = []
    claimed: set[int] = set()
    inside_leaf: list[str] = []
    for path, sub in module.named_modules():
        if not path:
            continue
        if any(path.startswith(prefix + ".") for prefix in inside_leaf):
            continue
        name = type(sub).__name__
        has_children = next(sub.children(), None) is not None
        is_container = has_children and name not in _LEAVES_WITH_CHILDREN
        config, _missing = captured_init_args(sub)
        if is_container:
            trainable, frozen = _count(sub.parameters())
            own = sum(_numel(p) for p in sub.parameters(recurse=False))
            if own:
                config["own_params"] = own
        else:
            if has_children:
                inside_leaf.append(path)
            fresh = [p for p in sub.parameters() if id(p) not in claimed]
            shared = sum(_numel(p) for p in sub.parameters() if id(p) in claimed)
            claimed.update(id(p) for p in fresh)
            trainable, frozen = _count(fresh)
            if shared:
                config["shared_params"] = shared
        buffers = sum(int(b.numel()) for b in sub.buffers(recurse=not is_container))
        if buffers and not is_container:
            config["buffer_elements"] = buffers
        layers.append(
            LayerRecord(
                path=path,
                type=name,
                canonical_type="container" if is_container else canonical_type(name),
                config=config,
                canonical_config={} if is_container else canonical_layer_config(sub),
                output_shape=shapes.get(path),
                trainable_params=trainable,
                non_trainable_params=frozen,
                depth=path.count(".") + 1,
                is_container=is_container,
            )
        )
    fold_activations(layers)
    return layers


def loss_name(loss: Any) -> Any:
    """A loss object or function as a name (``CrossEntropyLoss``, ``nll_loss``) or text."""
    if loss is None or isinstance(loss, str):
        return loss
    if hasattr(loss, "forward") and hasattr(loss, "parameters"):
        return type(loss).__name__
    return getattr(loss, "__name__", None) or type(loss).__name__


def describe_network(obj: torch.nn.Module, options: dict[str, Any]) -> NetworkRecord:
    """The ``NetworkRecord`` of a module (wrappers unwrapped); see the module docstring.

    ``options`` may hold ``example_input``, ``optimizer``, ``scheduler``, ``loss``,
    ``batch_size``, ``epochs``, ``architecture``, ``init_args`` and ``factory``.
    """
    module = unwrap_module(obj)
    shapes: dict[str, Any] = {}
    input_shape = output_shape = None
    example = options.get("example_input")
    if example is not None:
        shapes, input_shape, output_shape = output_shapes(module, example)
    layers = _layers(module, shapes)
    unique = list(module.parameters())
    trainable, frozen = _count(unique)
    size = sum(_numel(p) * p.element_size() for p in unique)
    size += sum(int(b.numel()) * b.element_size() for b in module.buffers())
    optimizers = optimizer_records(module, options)
    text = repr(module)
    return NetworkRecord(
        framework="torch",
        architecture=str(options.get("architecture") or type(module).__name__),
        layers=layers,
        total_params=trainable + frozen,
        trainable_params=trainable,
        non_trainable_params=frozen,
        size_bytes=size,
        signature=architecture_signature(layers),
        input_shape=input_shape,
        output_shape=output_shape,
        optimizer=optimizers[0] if optimizers else None,
        optimizers=optimizers,
        loss=loss_name(options.get("loss")),
        batch_size=options.get("batch_size"),
        epochs_planned=options.get("epochs"),
        model_config={"repr": text[:_MAX_REPR_CHARS], "wrapper": type(obj).__name__},
        reproduce=reproduce_info(module, options),
    )
