"""A local S3-compatible server for the tests: ``moto`` in server mode, in its own process.

``moto_s3_server()`` starts ``python -m moto.server`` on 127.0.0.1 on a free port, waits until
it answers, yields its endpoint URL and stops it. The environment it asks for
(``s3_environment``) gives botocore/s3fs fake credentials and a region, and turns off the EC2
metadata lookup, proxies and the user's ``~/.aws`` files, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["moto_s3_server", "s3_environment", "free_port"]

_START_WAIT_S = 60.0  # moto imports flask and its S3 backend: a few seconds on a busy machine


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def s3_environment(scratch: Path) -> dict[str, str]:
    """Variables that give botocore fake credentials, a region and no AWS config files (the
    endpoint is left to each test: ``MODELBOARD_ARTIFACT_OPTIONS`` or ``AWS_ENDPOINT_URL``)."""
    missing = str(scratch / "no-aws-config")
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def _answers(endpoint: str) -> bool:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with direct.open(f"{endpoint}/moto-api/", timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def moto_s3_server(scratch: Path) -> Iterator[str]:
    """Run moto's server on 127.0.0.1 for the ``with`` block; yields ``http://127.0.0.1:PORT``."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = open(scratch / "moto.log", "wb")  # noqa: SIM115 - closed below, after the process
    env = {**os.environ, **s3_environment(scratch)}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + _START_WAIT_S
        while not _answers(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    f"moto's S3 server did not start on {endpoint}: "
                    f"{(scratch / 'moto.log').read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
