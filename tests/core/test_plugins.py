"""The plugin system: adapters through entry points, kill switches, errors, lazy frameworks."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelboard as mb
from modelboard.plugins import (
    FrameworkInfo,
    adapter_names,
    create_plugin_manager,
    hookimpl,
    hookspecs,
)
from modelboard.records import LayerRecord, NetworkRecord


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_unknown_object_names_both_adapters(tracker: mb.Tracker) -> None:
    with pytest.raises(mb.UnsupportedModelError) as caught:
        tracker.track(object())
    message = str(caught.value)
    assert "builtins.object" in message
    assert "keras" in message and "torch" in message
    assert "CONTRIBUTING.md" in message
    assert caught.value.adapters == ["keras", "torch"]
    assert tracker.runs() == []  # nothing half-made was stored


def test_import_and_plugin_loading_import_no_framework() -> None:
    done = _run_python(
        """
        import sys, modelboard as mb
        pm = mb.get_plugin_manager()
        names = sorted(n for n in (pm.get_name(p) for p in pm.get_plugins()) if n)
        heavy = [m for m in ("tensorflow", "torch", "keras", "matplotlib", "sklearn")
                 if m in sys.modules]
        print(names, heavy)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['keras', 'modelboard.builtin', 'torch'] []"


def test_kill_switches_stop_autoload_and_block_named_plugins() -> None:
    assert adapter_names(create_plugin_manager(autoload=False)) == []
    assert adapter_names(create_plugin_manager(blocked=["torch"])) == ["keras"]
    done = _run_python(
        """
        import modelboard as mb
        from modelboard.plugins import adapter_names
        print(adapter_names(mb.create_plugin_manager()))
        """,
        MODELBOARD_BLOCK_PLUGINS="keras",
    )
    assert done.stdout.strip() == "['torch']", done.stderr
    done = _run_python(
        """
        import modelboard as mb
        from modelboard.plugins import adapter_names
        print(adapter_names(mb.get_plugin_manager()))
        """,
        MODELBOARD_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_a_plugin_that_fails_to_import_is_named_in_the_error(tmp_path: Path) -> None:
    dist = tmp_path / "brokenplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[modelboard]\nbrokenplug = no_such_module_xyz\n")
    code = """
        import modelboard as mb
        try:
            mb.create_plugin_manager()
        except mb.PluginLoadError as exc:
            print("ERR", exc)
        """
    done = _run_python(code, PYTHONPATH=str(tmp_path))
    assert done.stdout.startswith("ERR modelboard plugin 'brokenplug'"), done.stdout + done.stderr
    assert "No module named 'no_such_module_xyz'" in done.stdout
    assert "MODELBOARD_BLOCK_PLUGINS=brokenplug" in done.stdout
    blocked = _run_python(code, PYTHONPATH=str(tmp_path), MODELBOARD_BLOCK_PLUGINS="brokenplug")
    assert "ERR" not in blocked.stdout and blocked.returncode == 0, blocked.stderr


def test_every_hook_is_named_and_documented() -> None:
    hooks = [
        f
        for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if f.__module__ == hookspecs.__name__
    ]
    assert len(hooks) >= 8
    for hook in hooks:
        assert hook.__name__.startswith("modelboard_"), hook.__name__
        doc = inspect.getdoc(hook) or ""
        assert "Called" in doc and "Return" in doc, f"{hook.__name__} lacks when/what docs"
        firstresult = hook.modelboard_spec["firstresult"]  # type: ignore[attr-defined]
        assert ("firstresult" in doc) == firstresult, f"{hook.__name__}: firstresult not documented"
        assert all(
            p.annotation is not inspect.Parameter.empty
            for p in inspect.signature(hook).parameters.values()
        )


class SklearnAdapter:
    """A third-party adapter, written as CONTRIBUTING.md shows, for scikit-learn estimators."""

    @staticmethod
    def _is_estimator(obj: Any) -> bool:
        return type(obj).__module__.startswith("sklearn.") and hasattr(obj, "get_params")

    @hookimpl
    def modelboard_detect_framework(self, obj: Any) -> FrameworkInfo | None:
        if not self._is_estimator(obj):
            return None
        import sklearn

        return FrameworkInfo("sklearn", sklearn.__version__)

    @hookimpl
    def modelboard_describe_network(
        self, obj: Any, options: dict[str, Any]
    ) -> NetworkRecord | None:
        if not self._is_estimator(obj):
            return None
        name = type(obj).__name__
        layer = LayerRecord(
            path=name, type=name, canonical_type=name.lower(), config=obj.get_params()
        )
        return NetworkRecord(
            framework="sklearn", architecture=name, layers=[layer], hyperparameters=obj.get_params()
        )

    @hookimpl
    def modelboard_predict(self, obj: Any, x: Any, options: dict[str, Any]) -> Any | None:
        return obj.predict_proba(x) if self._is_estimator(obj) else None


def test_a_third_party_adapter_tracks_its_framework(tracker: mb.Tracker, plugin_manager) -> None:
    from sklearn.linear_model import LogisticRegression

    adapter = SklearnAdapter()
    plugin_manager.register(adapter, name="sklearn")
    try:
        model = LogisticRegression(C=0.5, max_iter=200)
        x = np.random.default_rng(0).random((40, 3))
        y = (x[:, 0] > 0.5).astype(int)
        model.fit(x, y)
        with tracker.track(model, hparams={"C": 0.5}) as run:
            probabilities = run.predict(x)
        stored = tracker.get(run.id)
        assert stored.run.framework == "sklearn"
        assert stored.network.architecture == "LogisticRegression"
        assert stored.network.hyperparameters["C"] == 0.5
        assert probabilities.shape == (40, 2)
        assert "sklearn" in adapter_names(plugin_manager)
    finally:
        plugin_manager.unregister(name="sklearn")
    assert "sklearn" not in adapter_names(plugin_manager)
