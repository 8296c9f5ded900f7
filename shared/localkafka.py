"""The local, single-node Apache Kafka broker used by `make run` and `make test`.

Kafka's jars come from Maven Central through the small Maven project in `infra/kafka/`
(the Apache download mirrors are not reachable from every machine). The broker runs in
KRaft mode (broker and controller in one JVM), with its data and logs under `var/kafka/`.
Production never uses this module: it sets `KAFKA_BOOTSTRAP_SERVERS` to an existing cluster.

    python -m shared.localkafka fetch|start|stop|status
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra" / "kafka"
LIBS = INFRA / "libs"


@dataclass(frozen=True)
class LocalBroker:
    """Where one local broker keeps its files and which ports it listens on."""

    home: Path = ROOT / "var" / "kafka"
    port: int = 9092
    controller_port: int = 9093

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def pidfile(self) -> Path:
        return self.home / "broker.pid"

    @property
    def logfile(self) -> Path:
        return self.home / "broker.log"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"


def fetch_jars() -> None:
    """Download the broker's jars once (about 45 jars, 44 MB); later calls do nothing."""
    if LIBS.is_dir() and any(LIBS.glob("kafka_2.13-*.jar")):
        return
    print("Fetching Apache Kafka's jars from Maven Central (once)...", flush=True)
    subprocess.run(
        ["mvn", "-q", "-B", "dependency:copy-dependencies"], cwd=INFRA, check=True
    )


def _java_command(broker: LocalBroker, *args: str) -> list[str]:
    return ["java", "-cp", str(LIBS / "*"), *args]


def _format(broker: LocalBroker) -> None:
    broker.home.mkdir(parents=True, exist_ok=True)
    template = (INFRA / "server.properties.template").read_text()
    broker.properties.write_text(
        template.replace("{DATA}", str(broker.data))
        .replace("{PORT}", str(broker.port))
        .replace("{CONTROLLER_PORT}", str(broker.controller_port))
    )
    if (broker.data / "meta.properties").exists():
        return
    cluster_id = subprocess.run(
        _java_command(broker, "kafka.tools.StorageTool", "random-uuid"),
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    subprocess.run(
        _java_command(
            broker, "kafka.tools.StorageTool", "format", "--standalone", "-g",
            "-t", cluster_id, "-c", str(broker.properties),
        ),
        check=True, capture_output=True, text=True,
    )


def running_pid(broker: LocalBroker) -> int | None:
    """The broker's process id if the process in the pid file is alive."""
    try:
        pid = int(broker.pidfile.read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def cluster_ready(bootstrap: str) -> bool:
    """True when an admin client sees at least one broker."""
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=3000, client_id="tamtam-probe"
        )
    except Exception:
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except Exception:
        return False
    finally:
        admin.close()


def start(broker: LocalBroker = LocalBroker(), timeout: float = 90.0) -> bool:
    """Start the broker unless it already runs; wait until it serves. True if we started it."""
    if running_pid(broker) and cluster_ready(broker.bootstrap):
        return False
    if port_open("127.0.0.1", broker.port) and cluster_ready(broker.bootstrap):
        return False  # a broker someone else started on our port: use it
    fetch_jars()
    _format(broker)
    log = open(broker.logfile, "ab")
    process = subprocess.Popen(
        [
            "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={INFRA / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={broker.home / 'logs'}",
            "-cp", str(LIBS / "*"), "kafka.Kafka", str(broker.properties),
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    broker.pidfile.write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Kafka exited with code {process.returncode}; see {broker.logfile}"
            )
        if port_open("127.0.0.1", broker.port) and cluster_ready(broker.bootstrap):
            return True
        time.sleep(0.5)
    stop(broker)
    raise TimeoutError(f"Kafka was not ready within {timeout:.0f} s; see {broker.logfile}")


def stop(broker: LocalBroker = LocalBroker(), grace: float = 30.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL."""
    pid = running_pid(broker)
    if pid is None:
        broker.pidfile.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    broker.pidfile.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    broker = LocalBroker()
    if command == "fetch":
        fetch_jars()
    elif command == "start":
        started = start(broker)
        print(("started" if started else "already running") + f" on {broker.bootstrap}")
    elif command == "stop":
        stop(broker)
        print("stopped")
    elif command == "status":
        ready = cluster_ready(broker.bootstrap)
        print(f"{'ready' if ready else 'not running'} on {broker.bootstrap}")
        return 0 if ready else 1
    else:
        print(f"unknown command {command!r}: use fetch, start, stop or status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
