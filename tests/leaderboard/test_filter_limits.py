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


def test_a_filter_with_too_many_conditions_is_a_filter_error(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    # 3,000 conditions: SQLite's own error would be "Expression tree is too large"
    where = " or ".join(f"val_accuracy > {i / 10000}" for i in range(3000))
    with pytest.raises(FilterError, match="more than 500 conditions") as info:
        tracker.leaderboard(where=where)
    assert "in (" in str(info.value)
    # at the limit the database still answers, and agrees with one condition
    at_limit = " or ".join(f"val_accuracy > {i / 10000}" for i in range(500))
    expected = len(tracker.leaderboard(where="val_accuracy > 0"))
    assert expected > 0
    assert len(tracker.leaderboard(where=at_limit)) == expected


def test_sorting_by_too_many_columns_says_so(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    with pytest.raises(FilterError, match="reads more than 60 stored values"):
        tracker.leaderboard(sort=[f"params.p{i}" for i in range(80)])
