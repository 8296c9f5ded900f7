"""`make run`: the whole system on one machine, and `make stop`.

Starts the local Kafka broker (unless KAFKA_BOOTSTRAP_SERVERS points at a cluster), creates
the topics, migrates the database, creates the demo tenant on an empty database, starts the
five services as separate processes, waits until each is ready, and prints where to go.
A service that dies is restarted. SIGINT/SIGTERM (Ctrl-C, `make stop`) stops every process
it started, the broker included, and leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared import localkafka, migrate
from shared.bus import ensure_topics
from shared.config import ROOT, SERVICES, Settings
from shared.db import make_engine, make_session_factory, transaction

RUN_DIR = ROOT / "var" / "run"
LOG_DIR = ROOT / "var" / "log"
SUPERVISOR_PID = RUN_DIR / "supervisor.pid"


def say(message: str) -> None:
    print(f"tamtam | {message}", flush=True)


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.started_kafka = False
        self.stopping = False
        self.restarts: dict[str, list[float]] = {}

    # --- start ----------------------------------------------------------------------------

    def prepare(self) -> str | None:
        """Kafka, topics, migrations, demo tenant. Returns the demo key if it was just created."""
        if self.settings.kafka_bootstrap_servers:
            say(f"using the Kafka cluster at {self.settings.kafka_bootstrap_servers}")
        else:
            say("starting the local Kafka broker (KRaft, 127.0.0.1:9092)...")
            self.started_kafka = localkafka.start()
        created = ensure_topics(self.settings)
        say(f"topics ready ({len(created)} created)")
        migrate.upgrade(self.settings.database_url)
        say("database migrated")
        if not self.settings.demo:
            return None
        from services.api.demo import seed_demo

        engine = make_engine(self.settings.database_url)
        try:
            with transaction(make_session_factory(engine)) as session:
                demo_key = self.settings.demo_api_key
                return seed_demo(session, demo_key.get_secret_value() if demo_key else None,
                                 self.settings.demo_password.get_secret_value())
        finally:
            engine.dispose()

    def start_service(self, name: str) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"{name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
        self.children[name] = process
        (RUN_DIR / f"{name}.pid").write_text(str(process.pid))

    def wait_ready(self, timeout: float = 90.0) -> list[str]:
        """Names of the services still not ready after `timeout` seconds."""
        pending = set(SERVICES)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while pending and time.monotonic() < deadline and not self.stopping:
                for name in sorted(pending):
                    try:
                        if client.get(f"{self.settings.service_url(name)}/readyz").status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                time.sleep(0.5)
        return sorted(pending)

    # --- watch and stop -------------------------------------------------------------------

    def watch(self) -> None:
        while not self.stopping:
            for name, process in list(self.children.items()):
                if process.poll() is None or self.stopping:
                    continue
                recent = [t for t in self.restarts.get(name, []) if time.monotonic() - t < 60]
                if len(recent) >= 5:
                    say(f"{name} keeps dying (see var/log/{name}.log); not restarting it again")
                    del self.children[name]
                    continue
                say(f"{name} exited with code {process.returncode}; restarting it")
                self.restarts[name] = [*recent, time.monotonic()]
                self.start_service(name)
            time.sleep(1)

    def stop(self, *_: object) -> None:
        self.stopping = True

    def shutdown(self) -> None:
        say("stopping...")
        for process in self.children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 25
        for process in self.children.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for name in self.children:
            (RUN_DIR / f"{name}.pid").unlink(missing_ok=True)
        if self.started_kafka:
            localkafka.stop()
        say("stopped: no Tamtam process left running")


def run(settings: Settings) -> int:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    if _alive(SUPERVISOR_PID):
        say("Tamtam already runs (make stop first)")
        return 1
    SUPERVISOR_PID.write_text(str(os.getpid()))
    supervisor = Supervisor(settings)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    try:
        demo_key = supervisor.prepare()
        for name in SERVICES:
            supervisor.start_service(name)
        late = supervisor.wait_ready()
        if late and not supervisor.stopping:
            say(f"not ready after 90 s: {', '.join(late)} (see var/log/<service>.log)")
        base = f"http://{settings.api_host}:{settings.api_port}"
        say("Tamtam is running. Ctrl-C or `make stop` stops everything.")
        say(f"  web pages   {base}/app/  (sign in)")
        say(f"  REST API    {base}/v1  (OpenAPI: {base}/docs)")
        say(f"  sandbox     {base}/sandbox  (the local test network)")
        say("  logs        var/log/<service>.log")
        if demo_key:
            from services.api.demo import DEMO_EMAIL

            say(f"  demo API key (shown once): {demo_key}")
            say(f"  demo web user: {DEMO_EMAIL} / {settings.demo_password.get_secret_value()}"
                " (TAMTAM_DEMO_PASSWORD)")
        elif settings.demo:
            say("  demo tenant already exists (its key was printed on the first run)")
        supervisor.watch()
    finally:
        supervisor.shutdown()
        SUPERVISOR_PID.unlink(missing_ok=True)
    return 0


def _alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text()), 0)
        return True
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False


def stop_all(timeout: float = 60.0) -> None:
    """`make stop`: ask the supervisor to stop, then make sure nothing of ours is left."""
    if _alive(SUPERVISOR_PID):
        pid = int(SUPERVISOR_PID.read_text())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(SUPERVISOR_PID) and time.monotonic() < deadline:
            time.sleep(0.3)
    for pidfile in RUN_DIR.glob("*.pid") if RUN_DIR.exists() else []:
        if _alive(pidfile):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
    localkafka.stop()
    say("stopped")
