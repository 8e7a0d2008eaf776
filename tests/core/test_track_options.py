"""track() checks its options against the adapter's declarations; runs announce where they went."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelboard as mb
from modelboard.plugins.options import SHARED_OPTIONS, TrackOption, check_track_options


def _tiny_module():
    from torch import nn

    return nn.Sequential(nn.Linear(3, 2))


def test_unknown_option_names_the_accepted_ones_and_stores_nothing(tracker: mb.Tracker) -> None:
    with pytest.raises(TypeError) as caught:
        tracker.track(_tiny_module(), gradient_every=5)
    message = str(caught.value)
    assert "'gradient_every'" in message
    assert "Did you mean 'gradients_every'?" in message
    assert "optimizer" in message and "example_input" in message
    assert tracker.runs() == []


def test_wrong_kind_of_value_is_refused(tracker: mb.Tracker) -> None:
    with pytest.raises(TypeError, match=r"gradients_every=.*an int >= 0.*str 'ten'"):
        tracker.track(_tiny_module(), gradients_every="ten")
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        tracker.track(_tiny_module(), optimizer=["not an optimizer"])
    with pytest.raises(TypeError, match="'logits' or 'probabilities'"):
        tracker.track(_tiny_module(), output="softmax")
    assert tracker.runs() == []


def test_declared_values_pass(tracker: mb.Tracker) -> None:
    import torch

    module = _tiny_module()
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    run = tracker.track(module, gradients_every=None, optimizer=opt, predict_batch_size=8)
    run.finish()
    assert tracker.get(run.id).run.status == "finished"


def test_the_shared_options_mean_the_same_in_both_adapters() -> None:
    from modelboard.adapters.keras.options import KERAS_OPTIONS
    from modelboard.adapters.torch.options import TORCH_OPTIONS

    for declared in (KERAS_OPTIONS, TORCH_OPTIONS):
        by_name = {o.name: o for o in declared}
        assert len(by_name) == len(declared), "an option is declared twice"
        for name, option in by_name.items():
            if name in SHARED_OPTIONS:
                assert option is SHARED_OPTIONS[name]
    keras_names = {o.name for o in KERAS_OPTIONS}
    torch_names = {o.name for o in TORCH_OPTIONS}
    assert {"gradients_every", "predict_batch_size", "output"} <= keras_names & torch_names


def test_check_allows_none_as_not_given() -> None:
    option = TrackOption("n", "an int", "a count", lambda v: isinstance(v, int))
    check_track_options("x", [option], {"n": None})
    with pytest.raises(TypeError):
        check_track_options("x", [option], {"n": 1.5})


def test_start_line_names_the_run_and_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELBOARD_URI", raising=False)
    monkeypatch.delenv("MODELBOARD_SILENT", raising=False)
    with mb.Tracker(plugin_manager=mb.create_plugin_manager()) as tracker:
        run = tracker.start_run("first")
        run.finish()
        with mb.Tracker(tmp_path / "other", plugin_manager=tracker.plugins) as elsewhere:
            other = elsewhere.start_run("second")
            other.finish()
    lines = capsys.readouterr().err.strip().splitlines()
    short, other_short = run.id[:8], other.id[:8]
    assert lines[0] == f"modelboard: run {short} first -> ./.modelboard (modelboard show {short})"
    assert lines[1] == (
        f"modelboard: run {other_short} second -> ./other "
        f"(modelboard show --store ./other {other_short})"
    )


def test_silent_setting_and_announce_false_print_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELBOARD_SILENT", "1")
    with mb.Tracker(tmp_path / "a", plugin_manager=mb.create_plugin_manager()) as tracker:
        tracker.start_run().finish()
    monkeypatch.delenv("MODELBOARD_SILENT")
    with mb.Tracker(tmp_path / "b", announce=False) as tracker:
        tracker.track(_tiny_module()).finish()
    assert "modelboard: run" not in capsys.readouterr().err


def test_every_declared_option_is_documented() -> None:
    from modelboard.adapters.keras.options import KERAS_OPTIONS
    from modelboard.adapters.torch.options import TORCH_OPTIONS

    rows = {}
    for line in (
        (Path(__file__).resolve().parents[2] / "docs" / "options.md").read_text().splitlines()
    ):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    for framework, declared in (("torch", TORCH_OPTIONS), ("keras", KERAS_OPTIONS)):
        column = 0 if framework == "torch" else 1
        names = {o.name for o in declared}
        for name in names:
            assert rows.get(name, ("", ""))[column] == "yes", (
                f"docs/options.md: {name} ({framework})"
            )
        documented = {n for n, cells in rows.items() if cells[column] == "yes"}
        assert documented == names, f"docs/options.md lists {framework} options it does not take"
