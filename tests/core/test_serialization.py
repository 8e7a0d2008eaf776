"""JSON round-trips of the values records hold."""

from __future__ import annotations

import json
import math

import numpy as np

from modelboard.serialization import dumps, from_jsonable, loads, to_jsonable


def test_numpy_scalars_and_arrays_become_plain_values() -> None:
    value = {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "a": np.arange(4).reshape(2, 2),
    }
    back = loads(dumps(value))
    assert back == {"i": 3, "f": 0.5, "b": True, "a": [[0, 1], [2, 3]]}
    assert type(back["i"]) is int and type(back["b"]) is bool


def test_nan_and_inf_survive_as_strict_json() -> None:
    value = {
        "nan": float("nan"),
        "inf": float("inf"),
        "neg": -math.inf,
        "arr": np.array([np.nan, 1.0]),
    }
    text = dumps(value)
    json.loads(text)  # strict JSON: no bare NaN tokens
    assert "NaN" not in text and "Infinity" not in text
    back = loads(text)
    assert math.isnan(back["nan"]) and back["inf"] == math.inf and back["neg"] == -math.inf
    assert math.isnan(back["arr"][0]) and back["arr"][1] == 1.0


def test_non_string_keys_and_nesting_round_trip() -> None:
    value = {1: "one", 2.5: {"deep": [1, {None: (1, 2)}]}, (3, 4): "tuple key"}
    back = loads(dumps(value))
    assert back[1] == "one"
    assert back[2.5] == {"deep": [1, {None: [1, 2]}]}
    assert back[(3, 4)] == "tuple key"


def test_unserialisable_objects_are_kept_as_tagged_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque 42>"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    back = loads(dumps({"o": Opaque(), "b": Broken(), "f": len}))
    assert back["o"]["$repr"] == "<Opaque 42>"
    assert back["o"]["$type"].endswith("Opaque")
    assert "unrepresentable" in back["b"]["$repr"]
    assert back["f"]["$type"] == "builtins.builtin_function_or_method"


def test_to_jsonable_is_idempotent_on_its_output() -> None:
    value = {"x": [float("nan"), {1: 2}], "s": {3, 1, 2}}
    once = to_jsonable(value)
    assert to_jsonable(from_jsonable(once)) == once
    assert once["s"] == [1, 2, 3]
