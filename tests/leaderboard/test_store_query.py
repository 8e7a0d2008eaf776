"""The store's public query API, as a dashboard uses it: pages, counts and the kinds of values."""

from __future__ import annotations

import pytest

from modelboard.store import (
    FilterError,
    count_runs,
    query_runs,
    select_run_ids,
    value_kinds,
)


@pytest.mark.parametrize("sort", [None, "val_accuracy", "-created", "name"])
def test_pages_are_consecutive_slices_of_the_full_order(sample, sort) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    full = select_run_ids(tracker.store, sort=sort)
    assert len(full) == 5
    pages = [
        select_run_ids(tracker.store, sort=sort, limit=2, offset=offset) for offset in (0, 2, 4, 6)
    ]
    assert pages == [full[0:2], full[2:4], full[4:5], []]


def test_a_page_of_rows_carries_its_ids_and_columns(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    where = "framework = 'keras' or framework = 'torch'"
    page = query_runs(
        tracker.store, where=where, sort="name", columns="name,batch_size", limit=2, offset=1
    )
    everything = query_runs(tracker.store, where=where, sort="name", columns="name,batch_size")
    assert page.labels == ["name", "batch_size"]
    assert page.rows == everything.rows[1:3]
    assert page.ids == everything.ids[1:3] and page.offset == 1 and page.sort == ["name"]


def test_count_matches_the_rows_of_the_same_filter(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    for where in (None, "framework = 'torch'", "batch_size > 32", "tags.baseline = 'yes'"):
        assert count_runs(tracker.store, where=where) == len(
            select_run_ids(tracker.store, where=where)
        )
    assert count_runs(tracker.store, project="other") == 1
    with pytest.raises(FilterError, match="position"):
        count_runs(tracker.store, where="batch_size >")


def test_value_kinds_per_name_and_for_the_whole_store(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    kinds = value_kinds(tracker.store, ["val_accuracy", "baseline", "no_such_column"])
    assert "metric_last" in kinds["val_accuracy"] or "eval" in kinds["val_accuracy"]
    assert kinds["baseline"] == {"tag"} and kinds["no_such_column"] == set()
    every = value_kinds(tracker.store)
    assert every["baseline"] == {"tag"}
    assert every["val_accuracy"] == kinds["val_accuracy"]


def test_negative_pages_are_refused(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    with pytest.raises(ValueError, match="offset must be"):
        select_run_ids(tracker.store, offset=-1)
    with pytest.raises(ValueError, match="limit must be"):
        query_runs(tracker.store, limit=-3)
