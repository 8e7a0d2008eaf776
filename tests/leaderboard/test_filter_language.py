"""The filter language: parsing and errors that point at the position."""

from __future__ import annotations

import pytest

from modelboard.leaderboard import FilterError, parse_filter
from modelboard.store.filter import BoolOp, Comparison, Contains, InList, IsNull, Like, Not


def test_precedence_and_binds_tighter_than_or() -> None:
    tree = parse_filter("framework = 'torch' and val_accuracy > 0.9 or tags.baseline = 'yes'")
    assert isinstance(tree, BoolOp) and tree.op == "or"
    assert isinstance(tree.parts[0], BoolOp) and tree.parts[0].op == "and"
    assert tree.parts[1] == Comparison(tree.parts[1].column, "=", tree.parts[1].value)
    assert tree.parts[1].column.name == "tags.baseline"


def test_every_form_parses() -> None:
    tree = parse_filter(
        "not (a in (1, 2.5) or b not like '%x%') and c contains 'f' and d is not null "
        "and e != 'it''s' and 3 < f and g is null and h = true"
    )
    assert isinstance(tree, BoolOp)
    kinds = [type(p) for p in tree.parts]
    assert kinds == [Not, Contains, IsNull, Comparison, Comparison, IsNull, Comparison]
    inner = tree.parts[0].part
    assert isinstance(inner.parts[0], InList) and [v.value for v in inner.parts[0].values] == [
        1,
        2.5,
    ]
    assert isinstance(inner.parts[1], Like) and inner.parts[1].negated
    assert tree.parts[3].value.value == "it's"
    assert tree.parts[4].op == ">" and tree.parts[4].column.name == "f"  # flipped
    assert tree.parts[6].value.value is True


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("val_accuracy >", 14, "expected a value after '>'"),
        ("val_accuracy > 0.9 and", 22, "expected a column name"),
        ("(a = 1", 6, "'(' at position 0 is not closed"),
        ("a = 1)", 5, "')' without a matching '('"),
        ("a = 1 b = 2", 6, "expected 'and', 'or'"),
        ("a ~ 1", 2, "unexpected character '~'"),
        ("name = 'abc", 7, "unterminated"),
        ("a in 1", 5, "expected '(' after 'in'"),
        ("a = null", 4, "is null"),
        ("a = torch", 4, "single quotes"),
        ("a like 3", 7, "quoted pattern"),
        ("", 0, "empty"),
    ],
)
def test_errors_point_at_the_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"bad filter at position {position}:")
    assert info.value.pointer().splitlines()[1] == " " * position + "^"
