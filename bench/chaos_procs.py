"""Replicas for `bench.chaos`: one service process each, with its own health port and log.

A replica is `python -m services.<name>` started with the scenario's environment (its own
database, broker, topic prefix) and `TAMTAM_<NAME>_PORT` set to its own port, so two
replicas of one service run side by side on one machine. Its log (JSON lines) is appended to
`<logs>/<name>-<n>.log`; before each start the harness appends a line
`{"chaos": "start", "life": k, ...}` so the log can be cut into lives (a life ends with a
SIGKILL or a stop).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.config import ROOT, SERVICES, Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a service process reads its Settings from (shared.config)."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith("TAMTAM_") and key != "KAFKA_BOOTSTRAP_SERVERS"
    }
    env.update({
        "TAMTAM_DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "TAMTAM_TOPIC_PREFIX": settings.topic_prefix,
        "TAMTAM_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "TAMTAM_HANDLER_MAX_ATTEMPTS": str(settings.handler_max_attempts),
        "TAMTAM_DEMO": "false",
        "TAMTAM_LOG_JSON": "true",
        "TAMTAM_LOG_LEVEL": settings.log_level,
        "TAMTAM_API_URL": f"http://127.0.0.1:{settings.api_port}",
    })
    if settings.ingest_poll_intervals:
        env["TAMTAM_INGEST_POLL_INTERVALS"] = json.dumps(settings.ingest_poll_intervals)
    if settings.secret_keys is not None:
        env["TAMTAM_SECRET_KEYS"] = settings.secret_keys.get_secret_value()
    for service in SERVICES:
        env[f"TAMTAM_{service.upper()}_PORT"] = str(settings.port_of(service))
    env.update(extra)
    return env


@dataclass
class Replica:
    """One replica of one service; `start()` does not block (see `wait_ready`)."""

    service: str
    number: int
    port: int
    settings: Settings
    logs: Path
    process: subprocess.Popen[bytes] | None = None
    life: int = 0
    lives: list[tuple[float, float | None, str]] = field(default_factory=list)  # start, end, how

    @property
    def name(self) -> str:
        return f"{self.service}-{self.number}"

    @property
    def log_path(self) -> Path:
        return self.logs / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Replica:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.life += 1
        now = time.time()
        with open(self.log_path, "a") as log:
            log.write(json.dumps({"chaos": "start", "life": self.life, "replica": self.name,
                                  "unix": now}) + "\n")
        log = open(self.log_path, "ab")
        env = service_env(self.settings, **{f"TAMTAM_{self.service.upper()}_PORT": str(self.port)})
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.service}"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        self.lives.append((now, None, ""))
        return self

    def wait_ready(self, timeout: float = 90.0) -> bool:
        """True once /readyz answers 200; False after `timeout` (the process may still come up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        return False

    def _ended(self, how: str) -> None:
        if self.lives and self.lives[-1][1] is None:
            start, _, _ = self.lives[-1]
            self.lives[-1] = (start, time.time(), how)

    def kill(self) -> None:
        """SIGKILL: no clean-up, as in a crash."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._ended("SIGKILL")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._ended("SIGTERM")
        return self.process.returncode

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""
