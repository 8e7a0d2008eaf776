"""Artifacts in object storage (issue 14, item 4): a real tracked run writes its artifacts and
evaluation plots through s3fs to moto's S3 server on 127.0.0.1, and show, export, report, the
ui, rm and gc read them from the bucket. Traversal names are refused for s3 and local roots."""

from __future__ import annotations

import base64
import csv
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelboard as mb
from modelboard.cli import main
from modelboard.store import resolve_location

pytest.importorskip("s3fs", reason="the s3 extra is not installed (pip install 'modelboard[s3]')")
pytest.importorskip("moto.server", reason="moto[server] is not installed (it is in dev)")

from s3_server import moto_s3_server, s3_environment  # noqa: E402

PREFIX = "team/artifacts"
PLOTS = {
    "val_confusion_matrix.png",
    "val_confusion_matrix_normalized.png",
    "val_roc.png",
    "val_pr.png",
    "training_curves.png",
}
_NO_RETRY = {"connect_timeout": 1, "retries": {"max_attempts": 1}}  # botocore Config options


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_s3_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket on the moto server, with MODELBOARD_ARTIFACT_ROOT pointing into it."""
    for key, value in s3_environment(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    name = f"mb-{uuid.uuid4().hex[:12]}"
    _client(endpoint).create_bucket(Bucket=name)
    monkeypatch.setenv("MODELBOARD_ARTIFACT_ROOT", f"s3://{name}/{PREFIX}")
    monkeypatch.setenv("MODELBOARD_ARTIFACT_OPTIONS", json.dumps({"endpoint_url": endpoint}))
    return name


def _objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = _client(endpoint)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _tracked_run(tracker: mb.Tracker, tmp_path: Path) -> mb.Run:
    """A run with a file, a folder and an evaluation with plots, all logged as artifacts."""
    run = tracker.start_run("s3-run")
    for epoch in range(3):
        run.log(epoch=epoch, loss=1.0 / (epoch + 1), val_loss=1.2 / (epoch + 1))
    notes = tmp_path / "notes.txt"
    notes.write_text("weights live in the bucket")
    run.log_artifact(notes, name="notes/hello.txt")
    folder = tmp_path / "checkpoint"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"\x00\x01" * 50)
    (folder / "sub" / "b.bin").write_bytes(b"\x02" * 30)
    run.log_artifact(folder, name="checkpoint", kind="model")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 120)
    scores = rng.normal(size=(120, 3))
    scores[np.arange(120), y] += 1.5
    record = run.evaluate(y_true=y, y_score=scores, class_names=["a", "b", "c"], split="val")
    assert set(record.artifacts) == PLOTS
    assert not [w for w in record.warnings if "plot" in w]
    run.finish()
    return run


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_artifacts_live_in_the_bucket_and_every_reader_reads_them_there(
    backend: str,
    endpoint: str,
    bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.chdir(tmp_path)  # a database URL keeps its journal in ./.modelboard
    folder = tmp_path / "store" if backend == "sqlite" else tmp_path / ".modelboard"
    store = str(folder) if backend == "sqlite" else request.getfixturevalue("pg_url")
    client = _client(endpoint)
    client.put_object(Bucket=bucket, Key="elsewhere/keep.txt", Body=b"not ours")
    with mb.Tracker(store, plugin_manager=mb.create_plugin_manager(autoload=False)) as tracker:
        assert tracker.location.artifact_url == f"s3://{bucket}/{PREFIX}"
        run = _tracked_run(tracker, tmp_path)
        registered = {a.path: a for a in tracker.get(run.id).artifacts}

    # the objects are in the bucket, under the run's prefix, and nowhere on local disk
    objects = _objects(endpoint, bucket)
    base = f"{PREFIX}/{run.id}/"
    expected = {"notes/hello.txt", "checkpoint/a.bin", "checkpoint/sub/b.bin", *PLOTS}
    assert {k.removeprefix(base) for k in objects if k.startswith(base)} == expected
    assert objects[base + "notes/hello.txt"] == b"weights live in the bucket"
    for plot in PLOTS:
        assert objects[base + plot].startswith(b"\x89PNG\r\n\x1a\n")
        assert registered[plot].size == len(objects[base + plot])
    assert registered["checkpoint"].size == 130
    assert tracker.location.journal_folder == folder.resolve() / "journal"
    assert not (folder / "artifacts").exists()
    staged = folder / "artifact-staging"
    assert not staged.exists() or not any(f.is_file() for f in staged.rglob("*"))

    # show: every registered artifact is found in the bucket; a removed object shows as missing
    code, out, _ = _cli(capsys, "show", run.id, "--json", "--store", store)
    shown = json.loads(out)
    assert code == 0 and shown["artifact_folder"] == f"s3://{bucket}/{base}"
    assert {a["path"]: a["stored"] for a in shown["artifacts"]} == {p: True for p in registered}
    client.delete_object(Bucket=bucket, Key=base + "notes/hello.txt")
    code, out, _ = _cli(capsys, "show", run.id, "--store", store)
    assert code == 0 and f"in s3://{bucket}/{base}, 1 of them missing there" in out
    client.put_object(Bucket=bucket, Key=base + "notes/hello.txt", Body=b"restored")

    # export: the leaderboard of a store whose artifacts are in s3
    code, _, _ = _cli(capsys, "export", "--out", str(tmp_path / "runs.csv"), "--store", store)
    with open(tmp_path / "runs.csv", newline="") as rows:
        assert [r["id"] for r in csv.DictReader(rows)] == [run.id]

    # report: the plots are inlined from the bucket's bytes
    report = tmp_path / "report.html"
    code, _, _ = _cli(capsys, "report", "--out", str(report), "--store", store)
    html = report.read_text()
    assert code == 0
    for plot in ("val_roc.png", "training_curves.png"):
        assert base64.b64encode(objects[base + plot]).decode("ascii") in html

    # ui: serves artifacts from the bucket, refuses traversal
    from starlette.testclient import TestClient

    from modelboard.ui.app import create_app

    with TestClient(create_app(store)) as browser:
        reply = browser.get(f"/artifacts/{run.id}/notes/hello.txt")
        assert reply.status_code == 200 and reply.content == b"restored"
        png = browser.get(f"/artifacts/{run.id}/val_pr.png")
        assert png.headers["content-type"] == "image/png"
        assert png.content == objects[base + "val_pr.png"]
        assert browser.get(f"/artifacts/{run.id}/nothing.png").status_code == 404
        for name in ("..%2F..%2Felsewhere%2Fkeep.txt", "%2e%2e/x", "%252e%252e/x", "..%5Cx"):
            assert browser.get(f"/artifacts/{run.id}/{name}").status_code == 403, name

    # gc: an orphan folder in the bucket (a run deleted elsewhere) is listed, then removed
    orphan = "ab" * 16
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{orphan}/plot.png", Body=b"x" * 10)
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{orphan}/deep/more.bin", Body=b"y" * 5)
    code, out, _ = _cli(capsys, "gc", "--json", "--dry-run", "--store", store)
    assert json.loads(out)["removed"] == [orphan] and json.loads(out)["bytes"] == 15
    assert f"{PREFIX}/{orphan}/plot.png" in _objects(endpoint, bucket)
    code, out, _ = _cli(capsys, "gc", "--json", "--store", store)
    assert code == 0 and json.loads(out)["removed"] == [orphan]
    left = _objects(endpoint, bucket)
    assert not [k for k in left if k.startswith(f"{PREFIX}/{orphan}/")]
    assert any(k.startswith(base) for k in left)  # the live run keeps its artifacts

    # rm: deleting the run deletes its prefix, and nothing outside it
    code, _, _ = _cli(capsys, "rm", run.id, "--yes", "--store", store)
    assert code == 0
    assert _objects(endpoint, bucket) == {"elsewhere/keep.txt": b"not ours"}


TRAVERSALS = ["../other_run/x.txt", "/etc/x.txt", "%2e%2e/x.txt", "..\\other\\x.txt", "a/../../x"]


@pytest.mark.parametrize("root", ["s3", "local"])
def test_a_traversal_name_is_refused_and_writes_nothing(
    root: str, endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if root == "local":
        monkeypatch.setenv("MODELBOARD_ARTIFACT_ROOT", str(tmp_path / "local-artifacts"))
    source = tmp_path / "model.txt"
    source.write_text("weights")
    before = _objects(endpoint, bucket)
    with mb.Tracker(
        tmp_path / "store", plugin_manager=mb.create_plugin_manager(autoload=False)
    ) as tracker:
        run = tracker.start_run("escape")
        for name in TRAVERSALS:
            with pytest.raises(mb.ArtifactPathError, match="artifact name"):
                run.log_artifact(source, name=name)
            with pytest.raises(mb.ArtifactPathError):
                run.artifact_store.put_bytes(run.id, name, b"x")
        with pytest.raises(mb.ArtifactPathError, match="not a modelboard id"):
            run.artifact_store.put_bytes("../" + run.id, "x.txt", b"x")
        kept = run.log_artifact(source, name="safe/model.txt")
        run.finish()
        assert [a.path for a in tracker.get(run.id).artifacts] == ["safe/model.txt"]
    assert kept.path == "safe/model.txt"
    after = _objects(endpoint, bucket)
    if root == "s3":
        assert set(after) - set(before) == {f"{PREFIX}/{run.id}/safe/model.txt"}
    else:
        assert after == before
        files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
        assert f"local-artifacts/{run.id}/safe/model.txt" in files
        assert not [f for f in files if f.endswith("x.txt") or f.endswith("/x")]


def test_the_standard_aws_endpoint_variable_works_without_options(
    endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELBOARD_ARTIFACT_OPTIONS")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    source = tmp_path / "a.txt"
    source.write_text("via AWS_ENDPOINT_URL")
    with mb.Tracker(
        tmp_path / "store", plugin_manager=mb.create_plugin_manager(autoload=False)
    ) as tracker:
        run = tracker.start_run("env-endpoint")
        run.log_artifact(source)
        run.finish()
    assert _objects(endpoint, bucket)[f"{PREFIX}/{run.id}/a.txt"] == b"via AWS_ENDPOINT_URL"


def test_bad_options_and_a_missing_bucket_are_clear_errors(
    endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "a.txt"
    source.write_text("x")
    monkeypatch.setenv("MODELBOARD_ARTIFACT_OPTIONS", "{not json")
    with mb.Tracker(
        tmp_path / "store", plugin_manager=mb.create_plugin_manager(autoload=False)
    ) as tracker:
        run = tracker.start_run("bad-options")
        with pytest.raises(ValueError, match="MODELBOARD_ARTIFACT_OPTIONS must be a JSON object"):
            run.log_artifact(source)
        run.finish()
    monkeypatch.setenv("MODELBOARD_ARTIFACT_OPTIONS", json.dumps({"endpoint_url": endpoint}))
    monkeypatch.setenv("MODELBOARD_ARTIFACT_ROOT", f"s3://{bucket}-missing/{PREFIX}")
    with mb.Tracker(
        tmp_path / "store", plugin_manager=mb.create_plugin_manager(autoload=False)
    ) as tracker:
        run = tracker.start_run("no-bucket")
        with pytest.raises(mb.ModelboardError, match=f"cannot upload .*{source.name}"):
            run.log_artifact(source)
        run.log(loss=0.5)  # the run goes on, and registered nothing
        run.finish()
        assert tracker.get(run.id).artifacts == []


def test_the_journal_and_staging_stay_local_with_a_remote_root(tmp_path: Path) -> None:
    folder = resolve_location(tmp_path / "store", "s3://bucket/prefix/")
    assert folder.artifact_url == "s3://bucket/prefix" and folder.artifacts_remote
    assert folder.journal_folder == (tmp_path / "store" / "journal").resolve()
    assert folder.artifact_root == (tmp_path / "store" / "artifact-staging").resolve()
    sqlite = resolve_location(f"sqlite:///{tmp_path}/db/x.db", "s3://bucket/prefix")
    assert sqlite.journal_folder == (tmp_path / "db" / "journal").resolve()
    local = resolve_location(tmp_path / "store", f"file://{tmp_path}/arts")
    assert not local.artifacts_remote and local.artifact_url == str((tmp_path / "arts").resolve())
    assert local.journal_folder == tmp_path.resolve() / "journal"
    with pytest.raises(ValueError, match="pass an object-store root as a string"):
        resolve_location(tmp_path / "store", Path("s3://bucket/prefix"))


def test_an_unreachable_object_store_is_reported_not_crashed_on(
    endpoint: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from s3_server import free_port

    store = tmp_path / "store"
    source = tmp_path / "a.txt"
    source.write_text("x")
    with mb.Tracker(store, plugin_manager=mb.create_plugin_manager(autoload=False)) as tracker:
        run = tracker.start_run("then-offline")
        run.log_artifact(source)
        run.finish()
    closed = {"endpoint_url": f"http://127.0.0.1:{free_port()}", "config_kwargs": _NO_RETRY}
    monkeypatch.setenv("MODELBOARD_ARTIFACT_OPTIONS", json.dumps(closed))
    code, out, err = _cli(capsys, "show", run.id, "--json", "--store", str(store))
    assert code == 0 and [a["stored"] for a in json.loads(out)["artifacts"]] == [None]
    assert "cannot list" in err
    code, _, err = _cli(capsys, "gc", "--store", str(store))
    assert code == 2 and f"artifact store s3://{bucket}/{PREFIX}: cannot list" in err
    with caplog.at_level(logging.WARNING, logger="modelboard"):
        code, _, _ = _cli(capsys, "rm", run.id, "--yes", "--store", str(store))
    assert code == 0 and "is deleted but its artifact folder is not" in caplog.text
    assert f"{PREFIX}/{run.id}/a.txt" in _objects(endpoint, bucket)
    monkeypatch.setenv("MODELBOARD_ARTIFACT_OPTIONS", json.dumps({"endpoint_url": endpoint}))
    code, out, _ = _cli(capsys, "gc", "--json", "--store", str(store))  # the store is back
    assert code == 0 and json.loads(out)["removed"] == [run.id]
    assert _objects(endpoint, bucket) == {}


def test_any_fsspec_url_is_a_root_and_gc_leaves_no_empty_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """fsspec's in-memory filesystem has real folders (s3 has none): rm and gc remove them."""
    import fsspec

    root = f"memory://mb-{uuid.uuid4().hex[:8]}/artifacts"
    monkeypatch.setenv("MODELBOARD_ARTIFACT_ROOT", root)
    monkeypatch.delenv("MODELBOARD_ARTIFACT_OPTIONS", raising=False)
    source = tmp_path / "a.txt"
    source.write_text("in memory")
    store = str(tmp_path / "store")
    with mb.Tracker(store, plugin_manager=mb.create_plugin_manager(autoload=False)) as tracker:
        run = tracker.start_run("memory")
        run.log_artifact(source, name="deep/a.txt")
        run.finish()
    memory, path = fsspec.core.url_to_fs(root)
    assert memory.cat_file(f"{path}/{run.id}/deep/a.txt") == b"in memory"
    orphan = "cd" * 16
    memory.pipe_file(f"{path}/{orphan}/x/y.bin", b"12345")
    code, out, _ = _cli(capsys, "gc", "--json", "--store", store)
    assert code == 0 and json.loads(out)["removed"] == [orphan] and json.loads(out)["bytes"] == 5
    code, out, _ = _cli(capsys, "gc", "--json", "--store", store)
    assert json.loads(out)["removed"] == []  # no empty folder is left to find again
    code, _, _ = _cli(capsys, "rm", run.id, "--yes", "--store", store)
    assert code == 0 and memory.ls(path, detail=False) == []


def test_migrate_moves_local_artifacts_into_the_bucket_and_back(
    endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``modelboard migrate`` copies a local store's files into s3 and back, byte for byte."""
    from modelboard.store.migrate import migrate, run_digests

    monkeypatch.delenv("MODELBOARD_ARTIFACT_ROOT")  # the source keeps its files on disk
    local = tmp_path / "local"
    notes = tmp_path / "notes.txt"
    notes.write_text("trained on digits\n")
    with mb.Tracker(local, announce=False) as tracker, tracker.start_run("with-files") as run:
        run.log(epoch=0, loss=0.5)
        run.log_artifact(notes)
        run.log_artifact(notes, name="nested/copy.txt")
    files = {
        p.relative_to(local / "artifacts").as_posix(): p.read_bytes()
        for p in (local / "artifacts").rglob("*")
        if p.is_file()
    }
    assert len(files) == 2

    remote = f"s3://{bucket}/{PREFIX}"
    first = migrate(local, tmp_path / "copy", destination_artifacts=remote)
    assert first.ok and first.copied == 1
    objects = _objects(endpoint, bucket)
    assert {key.removeprefix(f"{PREFIX}/"): body for key, body in objects.items()} == files
    assert migrate(local, tmp_path / "copy", destination_artifacts=remote).copied == 0
    assert run_digests(tmp_path / "copy", remote) == run_digests(local)

    back = migrate(tmp_path / "copy", tmp_path / "back", source_artifacts=remote)
    assert back.ok and back.copied == 1
    returned = {
        p.relative_to(tmp_path / "back" / "artifacts").as_posix(): p.read_bytes()
        for p in (tmp_path / "back" / "artifacts").rglob("*")
        if p.is_file()
    }
    assert returned == files
