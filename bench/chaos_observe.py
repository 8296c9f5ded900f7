"""What `bench.chaos` watches while the scenario runs, and reads once it is over.

- `OutcomeReader`: reads `posts.published` and `posts.failed` of the scenario's prefix from
  the start, without a consumer group (it must see every copy of every event), through
  broker restarts.
- `GroupMonitor`: describes the publish and ingest consumer groups every second and keeps
  each change of membership or assignment, to show partitions moving between replicas.
- `read_dead_letters`: every message of the prefix's `tamtam.dlq.*` topics.
- `partitions_by_life`: from the replicas' JSON logs (`message handled` lines carry topic,
  partition, offset), which partitions each life of each replica handled, and when.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

log = logging.getLogger("bench.chaos")


# --- outcomes -------------------------------------------------------------------------------


@dataclass
class Outcomes:
    # post id -> the external id of each posts.published event; -> (reason, retryable)
    published: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    failed: dict[str, list[tuple[str, bool]]] = field(default_factory=lambda: defaultdict(list))
    events: int = 0

    def final(self, post_id: str) -> bool:
        """Published, or failed for good (a retryable failure may still be followed)."""
        return bool(self.published.get(post_id)) or any(
            not retryable for _, retryable in self.failed.get(post_id, ()))


class OutcomeReader(threading.Thread):
    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        super().__init__(name="chaos-outcomes", daemon=True)
        self.bootstrap = bootstrap
        self.topics = topics
        self.outcomes = Outcomes()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", client_id="chaos-outcomes",
        )
        try:
            partitions = []
            for topic in self.topics:
                found = None
                deadline = time.monotonic() + 60
                while not found and time.monotonic() < deadline:
                    found = consumer.partitions_for_topic(topic)
                    if not found:
                        time.sleep(0.5)
                partitions += [TopicPartition(topic, p) for p in sorted(found or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            while not self.stopping.is_set():
                try:
                    batch = consumer.poll(timeout_ms=500)
                except Exception as error:  # broker restarting: keep trying
                    log.debug("outcome poll failed: %s", error)
                    time.sleep(1)
                    continue
                for records in batch.values():
                    for record in records:
                        self._take(record.value)
        except Exception as error:  # reported at the end; the scenario then times out
            self.error = f"{type(error).__name__}: {error}"
        finally:
            consumer.close()

    def _take(self, value: bytes) -> None:
        try:
            event = json.loads(value)
            data = event["data"]
            post_id = data["post_id"]
        except (ValueError, KeyError, TypeError):
            return
        with self.lock:
            self.outcomes.events += 1
            if event.get("type", "").endswith("posts.published"):
                self.outcomes.published[post_id].append(str(data.get("external_id")))
            elif event.get("type", "").endswith("posts.failed"):
                self.outcomes.failed[post_id].append(
                    (str(data.get("reason", "")), bool(data.get("retryable", False))))

    def missing(self, post_ids: list[str]) -> list[str]:
        with self.lock:
            return [post_id for post_id in post_ids if not self.outcomes.final(post_id)]

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)


# --- consumer groups ------------------------------------------------------------------------


@dataclass
class GroupChange:
    at: float  # unix time
    group: str
    members: dict[str, dict[str, list[int]]]  # member id -> topic (unprefixed) -> partitions


class GroupMonitor(threading.Thread):
    def __init__(self, bootstrap: str, groups: list[str], prefix: str, every: float = 1.0) -> None:
        super().__init__(name="chaos-groups", daemon=True)
        self.bootstrap = bootstrap
        self.groups = groups
        self.prefix = prefix
        self.every = every
        self.changes: list[GroupChange] = []
        self.stopping = threading.Event()
        self._last: dict[str, Any] = {}

    def run(self) -> None:
        admin: KafkaAdminClient | None = None
        while not self.stopping.is_set():
            try:
                if admin is None:
                    admin = KafkaAdminClient(bootstrap_servers=self.bootstrap,
                                             request_timeout_ms=3000, client_id="chaos-groups")
                described = admin.describe_groups(self.groups)
                now = time.time()
                for group in self.groups:
                    members = self._members(described.get(group, {}))
                    if members != self._last.get(group):
                        self._last[group] = members
                        self.changes.append(GroupChange(now, group, members))
            except Exception as error:  # broker away: try again with a new client
                log.debug("describe_groups failed: %s", error)
                if admin is not None:
                    try:
                        admin.close()
                    except Exception:  # closing a broken client may fail too
                        pass
                    admin = None
            self.stopping.wait(self.every)
        if admin is not None:
            admin.close()

    def _members(self, description: dict[str, Any]) -> dict[str, dict[str, list[int]]]:
        members: dict[str, dict[str, list[int]]] = {}
        for member in description.get("members") or []:
            assignment = member.get("member_assignment") or {}
            topics: dict[str, list[int]] = {}
            if isinstance(assignment, dict):
                for item in assignment.get("assigned_partitions") or []:
                    topic = str(item["topic"]).removeprefix(self.prefix)
                    topics[topic] = sorted(item["partitions"])
            members[str(member["member_id"])] = topics
        return members

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


# --- dead letters ---------------------------------------------------------------------------


def read_dead_letters(bootstrap: str, prefix: str,
                      timeout: float = 20.0) -> dict[str, list[dict[str, str]]]:
    """topic -> messages (their error headers) of every `<prefix>tamtam.dlq.*` topic."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chaos-dlq")
    try:
        topics = sorted(t for t in admin.list_topics() if t.startswith(f"{prefix}tamtam.dlq."))
    finally:
        admin.close()
    found: dict[str, list[dict[str, str]]] = {topic: [] for topic in topics}
    if not topics:
        return found
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, client_id="chaos-dlq")
    try:
        partitions = [TopicPartition(t, p) for t in topics
                      for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while (any(consumer.position(p) < ends[p] for p in partitions)
               and time.monotonic() < deadline):
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    headers = {k: v.decode(errors="replace") for k, v in record.headers or []}
                    found[tp.topic].append(headers)
    finally:
        consumer.close()
    return found


# --- logs -----------------------------------------------------------------------------------


@dataclass
class Life:
    replica: str
    life: int
    started: float
    handled: dict[str, dict[int, tuple[float, float, int]]] = field(
        default_factory=lambda: defaultdict(dict))  # topic -> partition -> (first, last, count)
    errors: list[str] = field(default_factory=list)


def _unix(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


def partitions_by_life(log_path: Path, replica: str, prefix: str) -> list[Life]:
    """Cut a replica's log into lives and collect, per life, the partitions it handled."""
    lives: list[Life] = []
    if not log_path.exists():
        return lives
    for raw in log_path.read_text(errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            if lives and ("Traceback" in raw or "Error" in raw):
                lives[-1].errors.append(raw[:300])
            continue
        if not isinstance(line, dict):
            continue
        if line.get("chaos") == "start":
            lives.append(Life(replica, int(line["life"]), float(line["unix"])))
            continue
        if not lives:
            continue
        if line.get("message") == "message handled" and "partition" in line:
            topic = str(line.get("topic", "")).removeprefix(prefix)
            when = _unix(line["time"])
            first, _, count = lives[-1].handled[topic].get(int(line["partition"]), (when, when, 0))
            lives[-1].handled[topic][int(line["partition"])] = (first, when, count + 1)
        elif (line.get("level") in ("error", "critical")
              and not str(line.get("logger", "")).startswith("kafka")):
            # kafka-python's own connection errors are expected while the broker restarts
            detail = str(line.get("error") or line.get("exception") or "")[-300:]
            lives[-1].errors.append(f"{line.get('message')}: {detail}")
    return lives
