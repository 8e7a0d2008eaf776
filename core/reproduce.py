"""``mb.reproduce(run_id)``: rebuild an untrained model from a stored network record, or refuse.

The adapter of the run's framework rebuilds the model (Keras: from the serialised config;
PyTorch: from the recorded classes and constructor arguments), importing only what the import
policy allows (``modelboard.reproduce_policy``; docs/reproduce.md). The rebuilt model is then
described like a tracked one and compared with the record: a different parameter count or
architecture signature raises ``ReproduceError`` naming the difference. A record that says it
cannot be rebuilt (``reproduce["rebuildable"]`` false) is refused up front with its reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from modelboard.canonical import architecture_signature, signature_layers
from modelboard.errors import ReproduceError
from modelboard.reproduce_policy import ImportPolicy, applying

if TYPE_CHECKING:
    from modelboard.records import LayerRecord, NetworkRecord
    from modelboard.tracking.tracker import Tracker

__all__ = ["reproduce", "check_rebuilt"]

_HINT = "track(model, init_args={...}) or decorate the class with @mb.record_init"


def _module_layers(layers: Sequence[LayerRecord], strip: bool = False) -> list[LayerRecord]:
    """The layers that are objects of the model (not function calls forward made): what a
    model built without running it has, so that both sides compare alike. With ``strip`` (the
    record lists forward's function calls) activations folded into a layer are taken out on
    both sides, since an ``F.relu`` after a conv folds into it only where forward was seen."""
    out = []
    for layer in layers:
        if layer.origin != "module":
            continue
        if strip and layer.canonical_config.get("activation") is not None:
            layer = type(layer).from_dict(layer.to_dict())
            layer.canonical_config = {**layer.canonical_config, "activation": None}
        out.append(layer)
    return out


def _describe(layer: dict[str, Any]) -> str:
    config = ", ".join(f"{k}={v}" for k, v in sorted(layer["config"].items()))
    return f"{layer['type']}({config}) with {layer['params']:,} parameters"


def _layer_difference(
    recorded: Sequence[LayerRecord], rebuilt: Sequence[LayerRecord], strip: bool
) -> str:
    left = signature_layers(_module_layers(recorded, strip))
    right = signature_layers(_module_layers(rebuilt, strip))
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return f"layer {index} is {_describe(b)}, the record has {_describe(a)}"
    return f"the rebuilt model has {len(right)} layers, the record {len(left)}"


def _missing_hint(info: dict[str, Any]) -> str:
    spec = info.get("spec") or {}
    names: set[str] = set()
    stack = [spec]
    while stack:
        node = stack.pop()
        names.update(node.get("defaulted") or [])
        stack.extend((node.get("children") or {}).values())
    if not names or info.get("init_args_from") == "user":
        return ""
    return f": constructor arguments {', '.join(sorted(names))} were not captured; {_HINT}"


def check_rebuilt(network: NetworkRecord, rebuilt: NetworkRecord) -> None:
    """Raise ``ReproduceError`` when ``rebuilt`` (the description of the rebuilt model) has
    another parameter count or architecture signature than the ``network`` record.

    Fields the record marks unknown (``network.unknown``) are not compared. Signatures are
    compared on the layers that are model objects, on both sides (a record made from an
    executed graph also lists function calls, which describing a new model cannot see)."""
    name = network.architecture
    info = network.reproduce or {}
    if "total_params" not in network.unknown and rebuilt.total_params != network.total_params:
        raise ReproduceError(
            f"rebuilt {name} has {rebuilt.total_params:,} parameters, the record says "
            f"{network.total_params:,}{_missing_hint(info)}"
        )
    if "layers" in network.unknown or "signature" in network.unknown:
        return
    strip = any(layer.origin != "module" for layer in network.layers)
    if network.layers:
        same = architecture_signature(
            _module_layers(network.layers, strip)
        ) == architecture_signature(_module_layers(rebuilt.layers, strip))
    else:
        same = network.signature is None or network.signature == rebuilt.signature
    if not same:
        raise ReproduceError(
            f"rebuilt {name} has another architecture than the record: "
            f"{_layer_difference(network.layers, rebuilt.layers, strip)}{_missing_hint(info)}"
        )


def reproduce(
    run_id: str,
    tracker: Tracker | None = None,
    *,
    allow_modules: Iterable[str] | None = None,
    trust_source: bool = False,
) -> Any:
    """A new, untrained model with the architecture recorded for ``run_id``, or
    ``ReproduceError``.

    ``allow_modules`` names packages beyond the frameworks and the project that the record may
    import (``["timm"]``); ``trust_source=True`` lets a class defined in the training script
    (``__main__``) be rebuilt by running the script's definitions recorded at ``track()``.
    """
    from modelboard.tracking.tracker import Tracker

    policy = ImportPolicy.of(allow_modules, trust_source)
    tracker = tracker or Tracker()
    stored = tracker.get(run_id)
    network = stored.network
    if network is None:
        raise ReproduceError(
            f"run {stored.id[:8]} has no network record: it was not started by track()"
        )
    info = network.reproduce or {}
    if info.get("rebuildable") is False:
        reason = info.get("not_rebuildable") or "no reason was recorded"
        raise ReproduceError(
            f"run {stored.id[:8]} was recorded as not rebuildable: {reason}. Track the model "
            "again with what the reason asks for"
        )
    with applying(policy):
        try:
            model = tracker.plugins.hook.modelboard_reproduce(network=network)
        except ReproduceError:
            raise
        except (ImportError, TypeError, ValueError, AttributeError) as exc:
            raise ReproduceError(
                f"rebuilding {network.architecture} failed: {type(exc).__name__}: {exc}"
            ) from exc
    if model is None:
        raise ReproduceError(
            f"no installed adapter rebuilds {network.framework} models; install "
            f"modelboard[{network.framework}]"
        )
    with warnings.catch_warnings():  # the description is only compared, never recorded
        warnings.simplefilter("ignore")
        described = tracker.plugins.hook.modelboard_describe_network(obj=model, options={})
    if described is None:
        raise ReproduceError(
            f"the rebuilt {type(model).__name__} cannot be described by any adapter, so it "
            "cannot be checked against the record"
        )
    check_rebuilt(network, described)
    return model
