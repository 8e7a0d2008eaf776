"""In CI every framework must really import: a broken install must fail, not skip tests."""

from __future__ import annotations

import importlib
import os

import pytest


@pytest.mark.parametrize(
    "module",
    ["tensorflow", "keras", "torch", "torchvision", "psycopg", "s3fs", "moto.server"],
)
def test_ci_has_every_framework(module: str) -> None:
    if not os.environ.get("CI"):
        pytest.skip("only CI promises every optional dependency")
    imported = importlib.import_module(module)  # raises when the install is broken
    assert imported.__name__ == module
