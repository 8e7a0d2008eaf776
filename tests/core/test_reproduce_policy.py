"""The import policy of mb.reproduce, on real files: what counts as a project module, and that
checking a name imports nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import modelboard as mb
from modelboard.reproduce_policy import ImportPolicy, split_path


def _package(root: Path, name: str, marker: Path) -> None:
    """A package whose import writes ``marker``, with a submodule ``models``."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (folder / "models.py").write_text("class Net:\n    pass\n")


def test_a_module_under_the_project_root_is_allowed_without_being_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    _package(tmp_path / "project", "my_models", marker)
    monkeypatch.syspath_prepend(str(tmp_path / "project"))
    policy = ImportPolicy(project_root=(tmp_path / "project").resolve())
    policy.check(["my_models.models:Net", "torch.nn:Linear", "keras.layers:Dense"])
    assert not marker.exists() and "my_models" not in sys.modules


def test_installed_packages_and_the_standard_library_are_not_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    _package(tmp_path / "project" / ".venv" / "site-packages", "vendored", marker)
    monkeypatch.syspath_prepend(str(tmp_path / "project" / ".venv" / "site-packages"))
    policy = ImportPolicy(project_root=(tmp_path / "project").resolve())
    with pytest.raises(mb.ReproduceError, match=r"refusing to import 'vendored\.models'"):
        policy.check(["vendored.models:Net"])
    everything = ImportPolicy(project_root=Path("/"))  # the stdlib lies under "/", not allowed
    for path in ("os:system", "subprocess:run", "builtins:eval", "json:loads"):
        with pytest.raises(mb.ReproduceError, match="allow_modules="):
            everything.check([path])
    assert not marker.exists() and "vendored" not in sys.modules


def test_allow_modules_names_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = ImportPolicy.of(["json"], trust_source=False)
    policy.check(["json:loads", "json.decoder:JSONDecoder"])
    with pytest.raises(mb.ReproduceError, match="jsonschema"):
        policy.check(["jsonschema:validate"])  # a prefix of a name is not its package
    with pytest.raises(TypeError, match="allow_modules"):
        ImportPolicy.of(["json:loads"], trust_source=False)
    assert json.loads("1") == 1


def test_the_training_script_needs_trust_source() -> None:
    with pytest.raises(mb.ReproduceError, match="trust_source=True"):
        ImportPolicy().check(["__main__:Net"])
    ImportPolicy(trust_source=True).check(["__main__:Net"])


def test_a_path_that_is_no_import_path_is_refused() -> None:
    assert split_path("torch.nn:Linear") == ("torch.nn", "Linear")
    assert split_path("torch.nn.Linear") == ("torch.nn", "Linear")
    with pytest.raises(mb.ReproduceError, match="not an importable"):
        split_path("Linear")


def test_record_init_keeps_the_arguments_of_the_decorated_class_only() -> None:
    from modelboard.init_args import recorded_init

    @mb.record_init
    class Base:
        def __init__(self, width: int = 3, names: tuple[str, ...] = ("a",), **extra: int) -> None:
            self.width = width

    class Child(Base):
        pass

    kept = recorded_init(Base(width=5, depth=2))
    assert kept is not None and kept.problem is None
    assert kept.args == {"width": 5, "names": ["a"], "depth": 2}
    assert recorded_init(Child(width=5)) is None
    odd = recorded_init(Base(width=object()))  # type: ignore[arg-type]
    assert odd is not None and "argument width is a builtins.object" in (odd.problem or "")
