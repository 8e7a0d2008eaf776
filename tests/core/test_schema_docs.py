"""docs/schema.md documents every field of every record."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from modelboard import records

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
RECORD_TYPES = [
    getattr(records, name)
    for name in records.__all__
    if isinstance(getattr(records, name), type)
    and issubclass(getattr(records, name), records.Record)
    and getattr(records, name) is not records.Record
]


def _section(text: str, name: str) -> str:
    match = re.search(rf"^#+ {name}\b.*?$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/schema.md has no section for {name}"
    return match.group(1)


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_every_field_is_documented(record_type: type) -> None:
    section = _section(DOC.read_text(), record_type.__name__)
    documented = set(re.findall(r"`(\w+)`", section))
    missing = [f.name for f in dataclasses.fields(record_type) if f.name not in documented]
    assert not missing, f"{record_type.__name__} fields missing from docs/schema.md: {missing}"
