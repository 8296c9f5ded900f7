"""The shared Kafka runner, through the real broker."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select, text

from shared.bus import Publisher, make_producer
from shared.config import ROOT, Settings
from shared.db import make_engine, make_session_factory
from shared.events import AccountDisconnected, Event, dead_letter_topic, new_event, topic_for
from shared.metrics import ServiceMetrics
from shared.models import ProcessedEvent
from shared.runner import ConsumerRunner
from tests.support.kafka_tools import produce, produce_raw, read_all

pytestmark = pytest.mark.kafka


def disconnected(brand: str = "brand-1", reason: str = "token revoked") -> Event:
    return new_event(
        AccountDisconnected(brand_id=brand, account_id="acct-1", reason=reason),
        tenant="agency-1", source="test",
    )


def make_runner(settings: Settings, session_factory, handler, group: str) -> ConsumerRunner:
    producer = make_producer(settings, "test")
    return ConsumerRunner(
        settings=settings, group=group, handlers={AccountDisconnected.type: handler},
        session_factory=session_factory,
        publisher=Publisher(producer, session_factory, group, settings.topic_prefix),
        metrics=ServiceMetrics(group),
    )


def test_bad_messages_go_to_the_dead_letter_topic_and_later_ones_are_still_handled(
    kafka_settings: Settings, session_factory
):
    handled: list[str] = []

    def handler(event: Event, session) -> list[Event]:
        if event.data.reason == "poison":
            raise RuntimeError("this handler always fails")
        handled.append(event.id)
        return []

    group = "dlq-test"
    topic = topic_for(AccountDisconnected.type, kafka_settings.topic_prefix)
    produce_raw(kafka_settings, topic, [("brand-1", b"{not json at all")])
    poison, good = disconnected(reason="poison"), disconnected(reason="fine")
    produce(kafka_settings, [poison, good])

    runner = make_runner(kafka_settings, session_factory, handler, group)
    assert runner.run(max_messages=3, idle_timeout=30) == 3

    assert handled == [good.id]
    dead = read_all(kafka_settings, dead_letter_topic(group, kafka_settings.topic_prefix), expected=2)
    assert len(dead) == 2
    errors = [dict(record.headers)["tamtam-error"].decode() for record in dead]
    assert errors[0].startswith("undecodable")
    assert "this handler always fails" in errors[1]
    assert dict(dead[1].headers)["tamtam-attempts"] == str(kafka_settings.handler_max_attempts).encode()
    assert dead[1].value == poison.to_bytes()  # the original message, intact
    metrics = runner.metrics.render().decode()
    assert 'tamtam_messages_dead_lettered_total{topic="' + topic + '"} 2.0' in metrics


def test_a_redelivered_event_is_skipped(kafka_settings: Settings, session_factory):
    calls: list[str] = []

    def handler(event: Event, session) -> list[Event]:
        calls.append(event.id)
        return []

    event = disconnected()
    produce(kafka_settings, [event, event])  # Kafka may deliver the same event twice
    runner = make_runner(kafka_settings, session_factory, handler, "dedupe-test")
    assert runner.run(max_messages=2, idle_timeout=30) == 2
    assert calls == [event.id]
    with session_factory() as session:
        assert session.get(ProcessedEvent, ("dedupe-test", event.id)) is not None


def test_handler_events_are_sent_after_the_transaction(kafka_settings: Settings, session_factory):
    def handler(event: Event, session) -> list[Event]:
        return [disconnected(brand="brand-2", reason=f"echo of {event.id}")]

    source = disconnected()
    produce(kafka_settings, [source])
    runner = make_runner(kafka_settings, session_factory, handler, "echo-test")
    runner.run(max_messages=1, idle_timeout=30)
    topic = topic_for(AccountDisconnected.type, kafka_settings.topic_prefix)
    records = read_all(kafka_settings, topic, expected=2)
    assert any(f"echo of {source.id}".encode() in record.value for record in records)


def test_sigkill_between_database_commit_and_offset_commit_has_one_effect(
    kafka_settings: Settings, sqlite_url: str
):
    engine = make_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE effects (n INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL)"))
    from shared.db import Base, import_all_models

    import_all_models()
    Base.metadata.create_all(engine)
    event = disconnected()
    produce(kafka_settings, [event])
    command = [sys.executable, "-m", "tests.support.effect_consumer", sqlite_url,
               kafka_settings.topic_prefix]

    crashed = subprocess.run([*command, "--crash"], cwd=ROOT, capture_output=True, timeout=120)
    assert crashed.returncode == -9  # killed after its handler's transaction committed
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM effects")) == 1

    again = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, text=True)
    assert again.returncode == 0, again.stderr
    assert "handled 1" in again.stdout  # Kafka delivered the event a second time...
    with engine.connect() as connection:  # ...and the effect still happened once
        assert connection.scalar(text("SELECT count(*) FROM effects")) == 1
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1
    engine.dispose()


def test_keys_are_handled_at_once_in_order_within_each_and_committed(
    kafka_settings: Settings, session_factory
):
    """threads=4: records with different keys are handled at the same time, each key's in
    order; `max_messages` stays exact; a stop in the middle of a poll redelivers what was not
    handled (and only no-ops for what was); in the end every offset is committed."""
    import threading
    import time

    settings = kafka_settings.model_copy(update={"topic_partitions": 4})
    topic = topic_for(AccountDisconnected.type, settings.topic_prefix)
    from kafka.admin import KafkaAdminClient, NewPartitions

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    admin.create_partitions({topic: NewPartitions(total_count=4)})
    admin.close()
    brands = [f"brand-{n}" for n in range(8)]
    events = [disconnected(brand=brand, reason=str(seq)) for seq in range(6) for brand in brands]
    produce(settings, events)

    lock = threading.Lock()
    seen: list[tuple[str, int]] = []
    running, most = 0, 0

    def handler(event: Event, session) -> list[Event]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
            seen.append((event.data.brand_id, int(event.data.reason)))
        return []

    first = make_runner(settings, session_factory, handler, "parallel-test")
    first.threads = 4
    assert first.run(max_messages=10, idle_timeout=30) == 10
    assert len(seen) == 10  # not one more, though four threads were at work

    rest = make_runner(settings, session_factory, handler, "parallel-test")
    rest.threads = 4
    assert rest.run(idle_timeout=5) >= len(events) - 10  # plus the no-op redeliveries
    assert sorted(seen) == sorted((e.data.brand_id, int(e.data.reason)) for e in events)
    for brand in brands:  # Kafka's order holds within a key
        assert [seq for b, seq in seen if b == brand] == list(range(6))
    assert most > 1, "records of different keys were handled one after another"
    assert most <= 4, "more records at once than the four threads"

    again = make_runner(settings, session_factory, handler, "parallel-test")
    assert again.run(idle_timeout=3) == 0  # everything handled was committed


def test_a_slow_poll_stops_starting_records_and_goes_back_for_the_rest(
    kafka_settings: Settings, session_factory
):
    """No record is started after the batch time limit (Kafka would give the partition to
    another consumer meanwhile): the runner commits what it did, rewinds to the first record
    left and polls again. Each record is handled once, in order, none skipped."""
    import time

    events = [disconnected(reason=str(seq)) for seq in range(12)]  # one key: one at a time
    produce(kafka_settings, events)
    calls: list[int] = []

    def handler(event: Event, session) -> list[Event]:
        calls.append(int(event.data.reason))
        time.sleep(0.1)
        return []

    runner = make_runner(kafka_settings, session_factory, handler, "slow-test")
    runner.batch_time_limit_s = 0.25  # about three records per poll
    polls = 0
    original = runner._handle_batch

    def counting(*args, **kwargs):
        nonlocal polls
        polls += 1
        return original(*args, **kwargs)

    runner._handle_batch = counting
    assert runner.run(idle_timeout=5) == 12  # no redelivery: the commits kept up
    assert calls == list(range(12))
    assert polls >= 3  # the twelve came over several polls, not one
