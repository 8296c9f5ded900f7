"""The one Kafka consumer loop every service uses.

A service gives the runner handlers: plain functions `(event, session) -> list[Event]`.
For each message the runner decodes it, skips it if its consumer group already handled that
event id, calls the handler inside one database transaction that also records the event as
processed and stages the handler's new events in the outbox, and commits. Once a poll's
messages are handled (several keys at once on PostgreSQL), it sends the outbox and only then
commits the Kafka offsets. A crash anywhere in between means Kafka redelivers and
the processed-event row makes the second delivery a no-op.

A message that cannot be decoded goes straight to the group's dead-letter topic; one whose
handler keeps failing goes there after `handler_max_attempts` tries. Either way the consumer
moves on. `stop()` (called on SIGTERM) lets the current message finish and commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.bus import Publisher, ensure_topics
from shared.config import Settings
from shared.db import transaction
from shared.events import Event, UndecodableEvent, dead_letter_topic, decode, topic_for
from shared.metrics import ServiceMetrics
from shared.models import ProcessedEvent

log = logging.getLogger(__name__)

Handler = Callable[[Event, Session], list[Event]]

MAX_POLL_INTERVAL_S = 300.0  # Kafka's max.poll.interval.ms, in seconds


def group_id(settings: Settings, group: str) -> str:
    return f"{settings.topic_prefix}tamtam-{group}"


class ConsumerRunner:
    def __init__(
        self,
        *,
        settings: Settings,
        group: str,
        handlers: Mapping[str, Handler],
        session_factory: sessionmaker[Session],
        publisher: Publisher,
        metrics: ServiceMetrics,
        after_transaction: Callable[[Event], None] | None = None,
        threads: int | None = None,
    ) -> None:
        """`after_transaction` runs after the database commit and before the Kafka commit
        (fault tests use it to kill the process exactly there)."""
        self.settings = settings
        self.group = group
        self.handlers = dict(handlers)
        self.session_factory = session_factory
        self.publisher = publisher
        self.metrics = metrics
        self.after_transaction = after_transaction
        self.threads = threads or settings.handler_threads
        self.batch_time_limit_s = MAX_POLL_INTERVAL_S / 3
        self._stopping = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._last_lag_check = 0.0
        self.started = threading.Event()
        self.crashed = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _make_consumer(self) -> KafkaConsumer:
        topics = [topic_for(name, self.settings.topic_prefix) for name in self.handlers]
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=group_id(self.settings, self.group),
            client_id=f"tamtam-{self.group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=100,
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
            max_poll_interval_ms=int(MAX_POLL_INTERVAL_S * 1000),
        )
        consumer.subscribe(topics)
        return consumer

    def run(self, max_messages: int | None = None, idle_timeout: float | None = None) -> int:
        """Consume until stopped, until `max_messages` were handled, or until nothing came
        for `idle_timeout` seconds. Returns how many messages were handled.

        Each poll's records are handled by up to `threads` threads, one key at a time per
        thread (see `_handle_batch`); the offsets are committed once the whole poll is handled,
        before the next poll. A rebalance happens only inside poll, so a partition never has
        two owners handling its records at the same time."""
        ensure_topics(self.settings, groups=[self.group])  # our dead-letter topic included
        self._flush_outbox()
        consumer = self._consumer = self._make_consumer()
        self.started.set()
        budget = _Budget(max_messages)
        pool = (ThreadPoolExecutor(self.threads, thread_name_prefix=f"tamtam-{self.group}")
                if self.threads > 1 else None)
        last_message = time.monotonic()
        try:
            while not self.stopping and not budget.spent:
                try:
                    batch = consumer.poll(timeout_ms=250)
                except KafkaError as error:  # broker restarting: the client reconnects
                    log.warning("poll failed; retrying", extra={"error": str(error)})
                    time.sleep(1)
                    continue
                if not batch:
                    self._update_lag(consumer)
                    if idle_timeout is not None and time.monotonic() - last_message > idle_timeout:
                        break
                    continue
                last_message = time.monotonic()
                self._handle_batch(consumer, batch, budget, pool)
                self._update_lag(consumer)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
            consumer.close(autocommit=False)
            self._consumer = None
        return budget.used

    def _handle_batch(self, consumer: KafkaConsumer, batch: Mapping[TopicPartition, list[Any]],
                      budget: _Budget, pool: ThreadPoolExecutor | None) -> None:
        """Handle one poll's records, then commit how far each partition got.

        Records are grouped by partition and key: a group is handled in order, groups at the
        same time (Kafka orders a key's records, and our keys are what must stay ordered: a
        brand's events, an account's due posts). A partition's committed offset stops at its
        first record not handled, so a stop in the middle redelivers the rest (and the
        processed-event rows make any repeat a no-op). No record is started after
        `batch_time_limit_s` (Kafka drops a consumer that does not poll again within
        max.poll.interval.ms and gives its partitions to another, which must not find a record
        still being handled here): the consumer goes back to the first record left and polls.
        A handler error that escapes the runner (the dead-letter topic unreachable) is raised
        after that commit and stops the consumer."""
        deadline = time.monotonic() + self.batch_time_limit_s
        groups: dict[tuple[TopicPartition, bytes | None], list[Any]] = {}
        for partition, records in batch.items():
            for record in records:
                groups.setdefault((partition, record.key), []).append(record)
        if pool is None or len(groups) == 1:
            results = [self._drain(records, budget, deadline) for records in groups.values()]
        else:
            futures = [pool.submit(self._drain, records, budget, deadline)
                       for records in groups.values()]
            results = [future.result() for future in futures]
        self._flush_outbox()  # the handlers' new events, before the offsets that caused them
        handled = {(record.topic, record.partition, record.offset)
                   for records, _ in results for record in records}
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        rewind: dict[TopicPartition, int] = {}
        for partition, records in batch.items():
            for record in records:
                if (record.topic, record.partition, record.offset) not in handled:
                    rewind[partition] = record.offset
                    break
                offsets[partition] = OffsetAndMetadata(record.offset + 1, None, -1)
        if offsets:
            self._commit(consumer, offsets)
        for _, error in results:
            if error is not None:
                raise error
        if rewind and not self.stopping:
            ours = consumer.assignment()
            for partition, offset in rewind.items():
                if partition in ours:
                    consumer.seek(partition, offset)

    def _drain(self, records: list[Any], budget: _Budget,
               deadline: float) -> tuple[list[Any], BaseException | None]:
        """Handle records in order; returns those handled and the error that stopped it."""
        done: list[Any] = []
        for record in records:
            if self.stopping or time.monotonic() > deadline or not budget.take():
                break
            try:
                self.handle_record(record)
            except BaseException as error:  # noqa: BLE001 - re-raised by the caller after the commit
                return done, error
            done.append(record)
        return done, None

    def _commit(self, consumer: KafkaConsumer,
                offsets: dict[TopicPartition, OffsetAndMetadata]) -> bool:
        """Commit offsets. False when a rebalance took partitions away (their messages may
        come again, and the processed-event rows make that a no-op)."""
        backoff = 0.5
        while not self.stopping:
            try:
                consumer.commit(offsets)
                return True
            except CommitFailedError as error:
                log.warning("offset commit refused after a rebalance", extra={"error": str(error)})
                return False
            except KafkaError as error:  # broker away: keep trying, the effect is already stored
                log.warning("offset commit failed; retrying", extra={"error": str(error)})
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)
        try:  # stopping: one short last try, so a clean stop does not redeliver its last poll
            consumer.commit(offsets, timeout_ms=5000)
            return True
        except KafkaError as error:
            log.warning("offset commit failed while stopping", extra={"error": str(error)})
            return False

    # --- one message ----------------------------------------------------------------------

    def handle_record(self, record: Any) -> None:
        try:
            event = decode(record.value)
        except UndecodableEvent as error:
            self._dead_letter(record, f"undecodable: {error}", attempts=0)
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            self._dead_letter(record, f"no handler for {event.type} in group {self.group}", 0,
                              event)
            return
        error_text = ""
        backoff = self.settings.handler_retry_backoff_s
        for attempt in range(1, self.settings.handler_max_attempts + 1):
            try:
                self._handle_once(event, handler)
                self.metrics.handled.labels(event.type).inc()
                log.info("message handled", extra={**_ids(event), **_position(record),
                                                   "attempt": attempt})
                return
            except Exception as error:  # a handler may fail in any way; we count and retry
                error_text = f"{type(error).__name__}: {error}"
                self.metrics.failed.labels(event.type).inc()
                log.warning(
                    "handler failed",
                    extra={**_ids(event), **_position(record), "attempt": attempt,
                           "error": error_text},
                )
                if attempt < self.settings.handler_max_attempts:
                    time.sleep(backoff)
                    backoff *= 2
        self._dead_letter(record, error_text, self.settings.handler_max_attempts, event)

    def _handle_once(self, event: Event, handler: Handler) -> None:
        try:
            with transaction(self.session_factory) as session:
                if session.get(ProcessedEvent, (self.group, event.id)) is not None:
                    return  # a redelivery: the effect is already in the database
                new_events = handler(event, session)
                session.add(ProcessedEvent(consumer_group=self.group, event_id=event.id))
                self.publisher.stage(session, new_events)
        except IntegrityError:
            # Another replica recorded this event first; make sure that is what happened.
            with self.session_factory() as session:
                if session.get(ProcessedEvent, (self.group, event.id)) is None:
                    raise
            return
        if self.after_transaction is not None:
            self.after_transaction(event)

    def _flush_outbox(self) -> None:
        """Send staged events; while the broker is away, keep trying (nothing is lost)."""
        backoff = 0.5
        while True:
            try:
                self.publisher.flush_outbox()
                return
            except Exception as error:  # broker unreachable or refusing: wait and retry
                if self.stopping:
                    log.warning("outbox left for the next start", extra={"error": str(error)})
                    return
                log.warning("outbox flush failed, retrying", extra={"error": str(error)})
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)

    def _dead_letter(self, record: Any, error: str, attempts: int,
                     event: Event | None = None) -> None:
        headers = [
            ("tamtam-error", error[:4000].encode()),
            ("tamtam-original-topic", record.topic.encode()),
            ("tamtam-original-partition", str(record.partition).encode()),
            ("tamtam-original-offset", str(record.offset).encode()),
            ("tamtam-attempts", str(attempts).encode()),
            ("tamtam-consumer-group", self.group.encode()),
        ]
        future = self.publisher.producer.send(
            dead_letter_topic(self.group, self.settings.topic_prefix),
            key=record.key, value=record.value, headers=headers,
        )
        self.publisher.producer.flush()
        future.get(timeout=30)
        self.metrics.dead_lettered.labels(record.topic).inc()
        log.error(
            "message dead-lettered",
            extra={**(_ids(event) if event is not None else {}), **_position(record),
                   "error": error[:500]},
        )

    # --- lag ------------------------------------------------------------------------------

    def _update_lag(self, consumer: KafkaConsumer, every: float = 5.0) -> None:
        now = time.monotonic()
        if now - self._last_lag_check < every:
            return
        self._last_lag_check = now
        assignment: set[TopicPartition] = consumer.assignment()
        if not assignment:
            return
        try:
            ends = consumer.end_offsets(list(assignment))
            for partition in assignment:
                lag = max(0, ends[partition] - consumer.position(partition))
                self.metrics.lag.labels(partition.topic, str(partition.partition)).set(lag)
        except Exception as error:  # lag is best effort; never stop consuming for it
            log.debug("lag check failed: %s", error)


class _Budget:
    """How many messages `run(max_messages=...)` may still handle, shared by the threads."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                return False
            self.used += 1
            return True

    @property
    def spent(self) -> bool:
        return self.limit is not None and self.used >= self.limit


def _ids(event: Event) -> dict[str, Any]:
    """The ids a log line about one message carries (post_id when the payload has one)."""
    return {"event_id": event.id, "event_type": event.type,
            "post_id": getattr(event.data, "post_id", None)}


def _position(record: Any) -> dict[str, Any]:
    """Where the message sits in Kafka (which replica owned which partition, in the logs)."""
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}
