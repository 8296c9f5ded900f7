"""A real local Bluesky PDS (Bluesky's own @atproto/dev-env, installed by infra/pds/setup.sh).

The session fixture starts `infra/pds/launch.mjs` with its own TMPDIR, waits for
`/xrpc/_health`, creates an account and stops the launcher by its PID at the end. Without
Node or the PDS it skips, except with CI=true, where it fails: CI must run these tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, unavailable

PDS_DIR = Path(__file__).resolve().parents[3] / "infra" / "pds"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class LocalPds:
    url: str
    handle: str
    password: str
    did: str


def _ensure_installed() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("the local Bluesky PDS: node and npm are not installed")
    if (PDS_DIR / "node_modules" / "@atproto" / "dev-env").is_dir():
        return
    result = subprocess.run(
        ["bash", str(PDS_DIR / "setup.sh")], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        unavailable(f"the local Bluesky PDS: infra/pds/setup.sh failed: {result.stderr[-2000:]}")


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            unavailable(f"the local Bluesky PDS: the launcher exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/xrpc/_health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    unavailable(f"the local Bluesky PDS: no answer from {url}/xrpc/_health within {START_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def local_pds() -> Iterator[LocalPds]:
    _ensure_installed()
    pds_port, plc_port = free_port(), free_port()
    tmpdir = tempfile.mkdtemp(prefix="tamtam-pds-")
    log_path = Path(tmpdir) / "launcher.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["node", "launch.mjs", "--pds-port", str(pds_port), "--plc-port", str(plc_port)],
            cwd=PDS_DIR,
            env={**os.environ, "TMPDIR": tmpdir},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://localhost:{pds_port}"
    try:
        _wait_healthy(url, process)
        handle = f"t{uuid.uuid4().hex[:10]}.test"
        password = uuid.uuid4().hex
        response = httpx.post(
            f"{url}/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{handle}@example.com", "password": password},
            timeout=30.0,
        )
        if response.status_code != 200:
            unavailable(f"the local Bluesky PDS: createAccount answered {response.status_code}: "
                        f"{response.text[:300]}")
        yield LocalPds(url=url, handle=handle, password=password, did=response.json()["did"])
    finally:
        _stop(process)
        shutil.rmtree(tmpdir, ignore_errors=True)
