"""``StoredRun`` lives in ``modelboard.store.stored_run``; this name stays for old imports."""

from modelboard.store.stored_run import StoredRun

__all__ = ["StoredRun"]
