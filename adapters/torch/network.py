"""The network record of a torch module: layers, canonical configs, parameters, output shapes.

With an example input (``example_input=``, or the first training batch: ``first_batch``) the
layers are what one forward ran, in executed order (``graph`` gives the rule): modules at their
first call, and function calls such as ``F.relu`` or ``torch.flatten`` as layers of
``origin="function"``; modules that did not run follow, marked ``config["executed"] = False``.
Without one they are the entries of ``named_modules()`` below the root (a submodule reached by
two paths is listed once, at its first path), and ``NetworkRecord.unknown["layers"]`` says that
function calls are not listed when a forward other than torch's own could make them.

A module with children is a container (its counts cover its subtree) except
``MultiheadAttention``, a layer whose own submodule is folded into it. Leaf layers count their
parameters; a parameter shared by two leaves counts at the first, and the other's
``config["shared_params"]`` says how many it shares. Totals count each parameter once.
``type`` is the short class (or function) name, ``module`` its Python module, ``depth`` 0 at the
top. The forward for an example input runs under ``no_grad`` in eval mode; the batch dimension
(the example's first dimension) is written ``None``, as Keras writes it.

The optimizers and learning-rate schedulers of the training loop are described by
``optimizers.optimizer_records``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import module_device, plain_value, unwrap_module
from modelboard.adapters.torch.graph import OperationCapture, is_container
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
    "captured_forward",
    "executed_layers",
    "unseen_functions_reason",
    "NO_EXAMPLE_REASON",
    "loss_name",
]


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


def captured_forward(module: torch.nn.Module, example_input: Any) -> OperationCapture:
    """The operations one forward pass with ``example_input`` ran (see ``graph``), under
    ``no_grad`` in eval mode; every hook is removed and modes restored."""
    import torch

    example = _to_device(example_input, module_device(module))
    modes = {m: m.training for m in module.modules()}
    capture = OperationCapture(module)
    output = None
    try:
        module.eval()
        with torch.no_grad():
            capture.start(example)
            try:
                output = call_module(module, example)
            finally:
                capture.stop(output)
    finally:
        for sub, mode in modes.items():
            sub.training = mode
    return capture


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


def _listed_modules(module: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``named_modules()`` below the root, without what is inside a leaf layer."""
    listed = []
    inside_leaf: list[str] = []
    for path, sub in module.named_modules():
        if not path or any(path.startswith(prefix + ".") for prefix in inside_leaf):
            continue
        if not is_container(sub) and next(sub.children(), None) is not None:
            inside_leaf.append(path)
        listed.append((path, sub))
    return listed


def _module_layer(
    path: str, sub: torch.nn.Module, claimed: set[int], output_shape: Any
) -> LayerRecord:
    """The record of one module; ``claimed`` holds the parameters counted at earlier layers."""
    name = type(sub).__name__
    container = is_container(sub)
    config, _missing = captured_init_args(sub)
    if container:
        trainable, frozen = _count(sub.parameters())
        own = sum(_numel(p) for p in sub.parameters(recurse=False))
        if own:
            config["own_params"] = own
    else:
        fresh = [p for p in sub.parameters() if id(p) not in claimed]
        shared = sum(_numel(p) for p in sub.parameters() if id(p) in claimed)
        claimed.update(id(p) for p in fresh)
        trainable, frozen = _count(fresh)
        if shared:
            config["shared_params"] = shared
    buffers = sum(int(b.numel()) for b in sub.buffers(recurse=not container))
    if buffers and not container:
        config["buffer_elements"] = buffers
    return LayerRecord(
        path=path,
        type=name,
        canonical_type="container" if container else canonical_type(name),
        module=type(sub).__module__,
        origin="module",
        config=config,
        canonical_config={} if container else canonical_layer_config(sub),
        output_shape=output_shape,
        trainable_params=trainable,
        non_trainable_params=frozen,
        depth=path.count("."),
        is_container=container,
    )


def _layers(module: torch.nn.Module) -> list[LayerRecord]:
    """Every listed module in ``named_modules()`` order, without output shapes."""
    claimed: set[int] = set()
    layers = [_module_layer(path, sub, claimed, None) for path, sub in _listed_modules(module)]
    fold_activations(layers)
    return layers


def executed_layers(module: torch.nn.Module, capture: OperationCapture) -> list[LayerRecord]:
    """The layers in the order the captured forward ran them, function calls included; the
    modules that did not run follow, with ``config["executed"] = False``."""
    claimed: set[int] = set()
    layers: list[LayerRecord] = []
    ran: set[str] = set()
    for op in capture.ops:
        if op.kind == "module":
            ran.add(op.path)
            layers.append(_module_layer(op.path, op.module, claimed, op.output_shape))
            continue
        layers.append(
            LayerRecord(
                path=op.path,
                type=op.name,
                canonical_type=op.canonical_type,
                module=op.source,
                origin="function",
                config=dict(op.config),
                canonical_config=dict(op.canonical_config),
                output_shape=op.output_shape,
                depth=op.caller.count(".") + 1 if op.caller else 0,
            )
        )
    for path, sub in _listed_modules(module):
        if path not in ran:
            layer = _module_layer(path, sub, claimed, None)
            layer.config["executed"] = False
            layers.append(layer)
    fold_activations(layers)
    return layers


def unseen_functions_reason(module: torch.nn.Module) -> str | None:
    """Why the module listing may miss layers, or ``None`` when it cannot: a root or container
    whose ``forward`` is not torch's own (``nn.Sequential``...) may call functions."""
    for sub in module.modules():
        if sub is not module and not is_container(sub):
            continue
        forward = type(sub).forward
        if not getattr(forward, "__module__", "").startswith("torch.nn."):
            return NO_EXAMPLE_REASON
    return None


NO_EXAMPLE_REASON = (
    "no example input: operations called as functions in forward (F.relu, torch.flatten...) "
    "are not listed; pass example_input= or train a batch to record them"
)


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
    input_shape = output_shape = None
    unknown: dict[str, str] = {}
    example = options.get("example_input")
    if example is not None:
        capture = captured_forward(module, example)
        layers = executed_layers(module, capture)
        input_shape, output_shape = capture.input_shape, capture.output_shape
        if capture.failed is not None:
            unknown["layers"] = f"recording the forward's operations failed: {capture.failed}"
    else:
        layers = _layers(module)
        reason = unseen_functions_reason(module)
        if reason is not None:
            unknown["layers"] = reason
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
        unknown=unknown,
    )
