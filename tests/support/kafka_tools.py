"""Small helpers tests use to put messages on, and read them back from, the real broker."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaConsumer, KafkaProducer

from shared.config import Settings
from shared.events import Event, topic_for


def produce_raw(settings: Settings, topic: str, messages: Iterable[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    for key, value in messages:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()


def produce(settings: Settings, events: Iterable[Event]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    for event in events:
        producer.send(topic_for(event.type, settings.topic_prefix), key=event.key.encode(),
                      value=event.to_bytes())
    producer.flush()
    producer.close()


def read_all(settings: Settings, topic: str, expected: int, timeout: float = 30.0) -> list:
    """Read `topic` from the start until `expected` records came or `timeout` passed."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None, consumer_timeout_ms=1000,
    )
    records = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records
