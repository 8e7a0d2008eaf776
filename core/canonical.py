"""The canonical layer vocabulary that lets a Keras model and its PyTorch twin line up.

Keras ``Conv2D`` and torch ``Conv2d`` are both ``conv2d``; ``Dense`` and ``Linear`` both
``dense``. Adapters fill ``LayerRecord.canonical_type`` with :func:`canonical_type` and
``canonical_config`` with the key hyperparameters under the names used here:

========== ==============================================================================
conv*      filters, kernel_size, strides, padding ("valid", "same" or a list), dilation,
           groups, use_bias, activation
dense      units, use_bias, activation
*pool*     pool_size, strides
dropout    rate
batchnorm  features (channels normalised)
recurrent  units, layers, bidirectional
embedding  input_dim, output_dim
activation activation (folded into the layer before it by :func:`fold_activations`)
========== ==============================================================================

Operations that a forward ran as function calls (``F.relu``, ``torch.flatten``, ``x.view``)
get their canonical type from :func:`canonical_function`; only the functions of its table are
layers, everything else a forward calls (arithmetic, indexing, ``size``) is bookkeeping.
``softmax`` and ``log_softmax`` stay two activations: a network ending in ``log_softmax``
returns log-probabilities, one ending in ``softmax`` probabilities, and a record that called
them equal would hide that difference (a Keras twin of a ``log_softmax`` net uses
``activation="log_softmax"``).

A layer whose ``config["executed"]`` is ``False`` was registered but did not run in the
recorded forward: it keeps its parameters but is no part of the signature and folds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from modelboard.records import LayerRecord

__all__ = [
    "canonical_type",
    "canonical_activation",
    "canonical_function",
    "as_int_list",
    "fold_activations",
    "signature_layers",
    "in_signature",
    "architecture_signature",
    "ACTIVATION_TYPES",
]

_TYPES: dict[str, str] = {
    # convolutions
    "conv1d": "conv1d",
    "conv2d": "conv2d",
    "conv3d": "conv3d",
    "conv2dtranspose": "conv2d_transpose",
    "convtranspose2d": "conv2d_transpose",
    "conv1dtranspose": "conv1d_transpose",
    "convtranspose1d": "conv1d_transpose",
    "depthwiseconv2d": "depthwise_conv2d",
    "separableconv2d": "separable_conv2d",
    # dense
    "dense": "dense",
    "linear": "dense",
    "lazylinear": "dense",
    "einsumdense": "dense",
    # pooling
    "maxpooling1d": "maxpool1d",
    "maxpool1d": "maxpool1d",
    "maxpooling2d": "maxpool2d",
    "maxpool2d": "maxpool2d",
    "maxpooling3d": "maxpool3d",
    "maxpool3d": "maxpool3d",
    "averagepooling1d": "avgpool1d",
    "avgpool1d": "avgpool1d",
    "averagepooling2d": "avgpool2d",
    "avgpool2d": "avgpool2d",
    "globalaveragepooling1d": "global_avgpool1d",
    "globalaveragepooling2d": "global_avgpool2d",
    "globalmaxpooling2d": "global_maxpool2d",
    "adaptiveavgpool2d": "adaptive_avgpool2d",
    "adaptivemaxpool2d": "adaptive_maxpool2d",
    # regularisation and normalisation
    "dropout": "dropout",
    "dropout1d": "dropout",
    "dropout2d": "dropout",
    "spatialdropout2d": "dropout",
    "batchnormalization": "batchnorm",
    "batchnorm1d": "batchnorm",
    "batchnorm2d": "batchnorm",
    "batchnorm3d": "batchnorm",
    "layernormalization": "layernorm",
    "layernorm": "layernorm",
    "groupnormalization": "groupnorm",
    "groupnorm": "groupnorm",
    # shape
    "flatten": "flatten",
    "reshape": "reshape",
    "zeropadding2d": "pad2d",
    "zeropad2d": "pad2d",
    "inputlayer": "input",
    "identity": "identity",
    "concatenate": "concatenate",
    "add": "add",
    "multiply": "multiply",
    # recurrent and embeddings
    "lstm": "lstm",
    "gru": "gru",
    "simplernn": "rnn",
    "rnn": "rnn",
    "embedding": "embedding",
    "multiheadattention": "attention",
    # activations
    "activation": "activation",
    "relu": "activation",
    "relu6": "activation",
    "leakyrelu": "activation",
    "prelu": "activation",
    "elu": "activation",
    "gelu": "activation",
    "sigmoid": "activation",
    "tanh": "activation",
    "softmax": "activation",
    "logsoftmax": "activation",
    "silu": "activation",
    "hardswish": "activation",
    "hardsigmoid": "activation",
    "softplus": "activation",
    "mish": "activation",
    # preprocessing and augmentation inside a model
    "rescaling": "rescaling",
    "normalization": "normalization",
    "resizing": "resizing",
    "randomflip": "augmentation",
    "randomrotation": "augmentation",
    "randomtranslation": "augmentation",
    "randomzoom": "augmentation",
    "randomcontrast": "augmentation",
    "randomcrop": "augmentation",
    "randombrightness": "augmentation",
}

_ACTIVATION_FUNCTIONS = (
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "hardswish",
    "hardsigmoid",
    "hardtanh",
    "prelu",
)
_FUNCTION_TYPES: dict[str, str] = {
    **{name: "activation" for name in _ACTIVATION_FUNCTIONS},
    "max_pool1d": "maxpool1d",
    "max_pool2d": "maxpool2d",
    "max_pool3d": "maxpool3d",
    "avg_pool1d": "avgpool1d",
    "avg_pool2d": "avgpool2d",
    "avg_pool3d": "avgpool3d",
    "adaptive_avg_pool1d": "adaptive_avgpool1d",
    "adaptive_avg_pool2d": "adaptive_avgpool2d",
    "adaptive_max_pool1d": "adaptive_maxpool1d",
    "adaptive_max_pool2d": "adaptive_maxpool2d",
    "dropout": "dropout",
    "dropout1d": "dropout",
    "dropout2d": "dropout",
    "dropout3d": "dropout",
    "alpha_dropout": "dropout",
    "feature_alpha_dropout": "dropout",
    "batch_norm": "batchnorm",
    "layer_norm": "layernorm",
    "group_norm": "groupnorm",
    "flatten": "flatten",
    "add": "add",
    "cat": "concatenate",
    "concat": "concatenate",
    "concatenate": "concatenate",
}


def canonical_function(name: str) -> str | None:
    """The canonical type of an operation run as a function (``max_pool2d`` -> ``maxpool2d``,
    ``relu_`` -> ``activation``); ``None`` for functions that are no layer (``size``, ``mul``).

    A trailing ``_`` (torch's in-place variants) and dunder names (``__add__``) are read as the
    plain name. Which calls of these functions become layers is the adapter's rule (a ``view``
    that flattens is a ``flatten``; an ``add`` of two equal-shaped tensors an ``add``).
    """
    key = name.strip("_")
    if key.startswith("i") and name.startswith("__i"):  # __iadd__
        key = key[1:]
    return _FUNCTION_TYPES.get(key)


ACTIVATION_TYPES = frozenset({"activation"})
_WEIGHTED = ("conv", "dense", "depthwise", "separable")
_ACTIVATION_NAMES = {
    "relu6": "relu6",
    "leakyrelu": "leaky_relu",
    "logsoftmax": "log_softmax",
    "hardswish": "hard_swish",
    "hardsigmoid": "hard_sigmoid",
}


def canonical_type(class_name: str) -> str:
    """The framework-neutral type of a layer class name (unknown names: lowercased)."""
    key = class_name.replace("_", "").lower()
    return _TYPES.get(key, key)


def canonical_activation(name: str | None) -> str | None:
    """``ReLU``/``relu`` -> ``relu``; ``linear`` and ``None`` -> ``None`` (no activation)."""
    if name is None:
        return None
    key = str(name).replace("_", "").lower()
    if key in ("linear", "identity", "none", ""):
        return None
    return _ACTIVATION_NAMES.get(key, key)


def as_int_list(value: Any, dims: int) -> list[int] | Any:
    """``3`` -> ``[3, 3]`` for ``dims=2``; tuples become lists; other values pass through."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return [value] * dims
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value):
        return list(value)
    return value


def _is_weighted(layer: LayerRecord) -> bool:
    return layer.canonical_type.startswith(_WEIGHTED)


def fold_activations(layers: Sequence[LayerRecord]) -> None:
    """Fold each standalone activation into the weighted layer before it (in place).

    The weighted layer's ``canonical_config["activation"]`` takes the activation's name when it
    had none; the activation layer's ``canonical_config["folded_into"]`` names that layer, and
    it drops out of :func:`signature_layers`.
    """
    previous: LayerRecord | None = None
    for layer in layers:
        if layer.is_container or layer.config.get("executed") is False:
            continue
        if layer.canonical_type in ACTIVATION_TYPES:
            name = layer.canonical_config.get("activation")
            if (
                previous is not None
                and _is_weighted(previous)
                and previous.canonical_config.get("activation") is None
            ):
                previous.canonical_config["activation"] = name
                layer.canonical_config["folded_into"] = previous.path
            continue
        if layer.canonical_type not in ("dropout",):
            previous = layer
        elif previous is not None and not _is_weighted(previous):
            previous = None


def in_signature(layer: LayerRecord) -> bool:
    """Whether a layer defines the architecture (see :func:`signature_layers`)."""
    return not (
        layer.is_container
        or layer.canonical_type in ("input", "identity")
        or layer.config.get("executed") is False
        or "folded_into" in layer.canonical_config
    )


def signature_layers(layers: Sequence[LayerRecord]) -> list[dict[str, Any]]:
    """The leaf layers that define an architecture, framework-neutral, for hashing and alignment.

    Containers, input layers, folded activations, identity layers and layers that did not run
    (``config["executed"] is False``) are left out.
    """
    out = []
    for layer in layers:
        if not in_signature(layer):
            continue
        config = {k: v for k, v in layer.canonical_config.items() if v is not None}
        out.append(
            {
                "type": layer.canonical_type,
                "config": config,
                "params": layer.trainable_params + layer.non_trainable_params,
            }
        )
    return out


def architecture_signature(layers: Sequence[LayerRecord]) -> str:
    """A short hash of :func:`signature_layers`: equal for equal architectures, any weights."""
    text = json.dumps(signature_layers(layers), sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
