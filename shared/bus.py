"""Kafka clients and the transactional outbox, shared by every service.

Only a service's `main.py` calls `make_producer` / `ensure_topics`; everything else receives
a `Publisher` (or writes to the outbox inside its transaction and lets the runner send).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.events import Event, all_topics, dead_letter_topic, topic_for
from shared.models import OutboxEvent

log = logging.getLogger(__name__)

CONSUMER_GROUPS = ("api", "ingest", "generation", "review", "publish")


def make_producer(settings: Settings, client_id: str, wait_s: float = 60.0) -> KafkaProducer:
    """acks=all with the idempotent producer: a retried send is not written twice.
    Waits up to `wait_s` for the cluster, so a service started while the broker restarts
    comes up when it is back instead of exiting."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return _producer(settings, client_id)
        except KafkaError:  # e.g. "Unable to bootstrap" while the broker restarts
            if time.monotonic() > deadline:
                raise
            log.warning("no Kafka broker available yet; retrying", extra={"client_id": client_id})
            time.sleep(2)


def _producer(settings: Settings, client_id: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        retries=2147483647,
        max_in_flight_requests_per_connection=5,
    )


def ensure_topics(settings: Settings, groups: Iterable[str] = CONSUMER_GROUPS) -> list[str]:
    """Create every event topic and one dead-letter topic per consumer group; returns the new ones."""
    wanted = all_topics(settings.topic_prefix) + [
        dead_letter_topic(group, settings.topic_prefix) for group in groups
    ]
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="tamtam-admin")
    try:
        existing = set(admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=1)
                        for name in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # another process created them between our list and create
        return missing
    finally:
        admin.close()


def add_to_outbox(session: Session, events: Sequence[Event], *, source: str, prefix: str) -> None:
    """Stage events in the caller's transaction; they are sent after it commits."""
    for event in events:
        session.add(
            OutboxEvent(
                source=source,
                event_id=event.id,
                topic=topic_for(event.type, prefix),
                key=event.key,
                value=event.to_bytes(),
            )
        )


class Publisher:
    """Sends a service's outbox rows to Kafka and deletes them once the broker has them."""

    def __init__(
        self, producer: KafkaProducer, session_factory: sessionmaker[Session], source: str, prefix: str
    ) -> None:
        self.producer = producer
        self.session_factory = session_factory
        self.source = source
        self.prefix = prefix
        # One flush at a time per process: the consumer, the routes and the background
        # loops share this publisher, and two flushers would send the same rows twice.
        self._flushing = threading.Lock()

    def stage(self, session: Session, events: Sequence[Event]) -> None:
        add_to_outbox(session, events, source=self.source, prefix=self.prefix)

    def flush_outbox(self, batch: int = 500) -> int:
        """Send what is waiting in the outbox, oldest first; returns how many were sent."""
        with self._flushing:
            return self._flush(batch)

    def _flush(self, batch: int) -> int:
        sent = 0
        while True:
            with self.session_factory() as session:
                rows = session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.source == self.source)
                    .order_by(OutboxEvent.seq)
                    .limit(batch)
                ).all()
                if not rows:
                    return sent
                futures = [
                    self.producer.send(row.topic, key=row.key.encode(), value=row.value) for row in rows
                ]
                self.producer.flush()
                for future in futures:
                    future.get(timeout=30)  # raises if the broker refused one
                # By event id, not seq: SQLite reuses the seq of deleted rows, so another
                # flusher's rows staged meanwhile could carry a seq we just read.
                session.execute(
                    delete(OutboxEvent).where(OutboxEvent.event_id.in_([row.event_id for row in rows]))
                )
                session.commit()
                sent += len(rows)

    def send_now(self, events: Sequence[Event]) -> None:
        """Send events that no database change depends on (e.g. a command)."""
        futures = [
            self.producer.send(
                topic_for(event.type, self.prefix), key=event.key.encode(), value=event.to_bytes()
            )
            for event in events
        ]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)
