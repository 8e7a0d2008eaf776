"""The environment variables: one list in modelboard.settings, the same list in the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelboard import settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"


def _documented() -> set[str]:
    return set(re.findall(r"^\| `(MODELBOARD_[A-Z_]+)` \|", DOC.read_text(), flags=re.M))


def test_every_setting_is_documented_and_every_documented_variable_is_a_setting() -> None:
    listed = {s.name for s in settings.SETTINGS + settings.TEST_SETTINGS}
    assert _documented() == listed


def test_only_the_settings_module_reads_modelboard_variables() -> None:
    reads = re.compile(r"(os\.environ|os\.getenv|environ\.get)[^\n]*MODELBOARD_")
    offenders = []
    for folder in ("core", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "settings.py" and path.parent.name == "core":
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if reads.search(line) or re.search(r"environ(\.get)?\([^)]*_ENV\b", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_values_are_read_at_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELBOARD_HEARTBEAT_TIMEOUT", raising=False)
    assert settings.heartbeat_timeout() == 30.0
    monkeypatch.setenv("MODELBOARD_HEARTBEAT_TIMEOUT", "4.5")
    assert settings.heartbeat_timeout() == 4.5
    monkeypatch.setenv("MODELBOARD_BLOCK_PLUGINS", " torch, ,keras ")
    assert settings.blocked_plugins() == ["torch", "keras"]
    for value, expected in (("1", True), ("yes", True), ("0", False), ("off", False), ("", False)):
        monkeypatch.setenv("MODELBOARD_DISABLE_PLUGIN_AUTOLOAD", value)
        assert settings.plugin_autoload_disabled() is expected


def test_a_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELBOARD_HEARTBEAT_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="MODELBOARD_HEARTBEAT_TIMEOUT must be a number"):
        settings.heartbeat_timeout()


def test_the_store_location_follows_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from modelboard.store import resolve_location

    monkeypatch.setenv("MODELBOARD_URI", str(tmp_path / "runs"))
    location = resolve_location()
    assert location.url == f"sqlite:///{tmp_path / 'runs' / 'modelboard.db'}"
    assert location.artifact_root == tmp_path / "runs" / "artifacts"
