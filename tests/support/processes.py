"""Run a Tamtam service as its own process, as `make run` does, for cross-process tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.config import ROOT, Settings


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "TAMTAM_DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "TAMTAM_TOPIC_PREFIX": settings.topic_prefix,
        "TAMTAM_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "TAMTAM_DEMO": "false",
        "TAMTAM_LOG_JSON": "true",
    }
    if settings.secret_keys is not None:
        env["TAMTAM_SECRET_KEYS"] = settings.secret_keys.get_secret_value()
    for service in ("api", "ingest", "generation", "review", "publish"):
        env[f"TAMTAM_{service.upper()}_PORT"] = str(settings.port_of(service))
    env.update(extra)
    return env


class ServiceProcess:
    """`python -m services.<name>` with its log in `log_path`; waits for /readyz."""

    def __init__(self, name: str, settings: Settings, log_path: Path, **extra_env: str) -> None:
        self.name = name
        self.settings = settings
        self.log_path = log_path
        self.env = service_env(settings, **extra_env)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"{self.settings.service_url(self.name)}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
