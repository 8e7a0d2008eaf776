"""Filters past the parser's or the database's limits get a clear FilterError, not a raw one."""

from __future__ import annotations

import pytest

from modelboard.leaderboard import FilterError, parse_filter


def test_deep_nesting_is_a_filter_error_not_a_recursion_error() -> None:
    text = "(" * 400 + "val_accuracy > 0.5" + ")" * 400
    with pytest.raises(FilterError, match="nest more than") as info:
        parse_filter(text)
    assert not isinstance(info.value, RecursionError)
    assert info.value.position == 50  # where the 51st level opens


def test_nesting_within_the_limit_still_parses() -> None:
    assert parse_filter("(" * 20 + "val_accuracy > 0.5" + ")" * 20) is not None
    assert parse_filter("not " * 20 + "val_accuracy > 0.5") is not None


def test_a_filter_naming_too_many_columns_says_so(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    where = " or ".join(f"params.p{i} = {i}" for i in range(80))
    with pytest.raises(FilterError, match="reads more than 60 stored values") as info:
        tracker.leaderboard(where=where)
    assert "64 tables" not in str(info.value)
    # the store still answers afterwards
    assert len(tracker.leaderboard(where="params.p0 is null")) == 5
