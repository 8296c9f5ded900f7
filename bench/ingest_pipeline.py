"""Ingest pipeline throughput: mentions per second from normalisation (language, sentiment)
and storage, through the outbox and Kafka, to the ingest consumer's trend and crisis updates
in the database — next to raw kafka-python produce→consume throughput on the same broker in
the same run. The ratio is the figure (medians of a few runs).

    python -m bench.ingest_pipeline [mentions, 2000] [runs, 5]
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from bench.common import median_of, report
from plugins.networks.base import IncomingMention
from services.ingest.handlers import HANDLERS
from services.ingest.mentions import Origin, store_mentions
from shared.bus import Publisher, ensure_topics, make_producer
from shared.config import Settings
from shared.db import Base, import_all_models, make_engine, make_session_factory, transaction
from shared.metrics import ServiceMetrics
from shared.runner import ConsumerRunner

TEXTS = (
    "Trop bien, merci pour la livraison rapide ! #rentrée", "Love the new croissant 😍",
    "Toujours pas de réponse à mon mail, inadmissible", "Vous ouvrez à quelle heure dimanche ?",
    "Waited 40 minutes and the order was wrong. Not impressed.", "Bravo à toute l'équipe 👏",
    "Is the terrace open tonight?", "La qualité a baissé ces derniers temps, dommage",
)
PAGE = 50


def settings_for(folder: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{folder / 'bench.db'}",
                    topic_prefix=f"bench{uuid.uuid4().hex[:8]}.", topic_partitions=1,
                    secret_keys="Y1hUkUHsa3s0Bq4WkJrYbyQ7pIa_zzcVHbpJ4eY2fSI=", demo=False,
                    log_json=False)


def mentions(count: int, run: int) -> list[IncomingMention]:
    rng = random.Random(run)
    start = datetime(2025, 6, 2, tzinfo=UTC)
    return [IncomingMention(external_id=f"r{run}-{i}", author=f"user{rng.randrange(500)}",
                            text=rng.choice(TEXTS), created_at=start + timedelta(seconds=5 * i))
            for i in range(count)]


def pipeline_rate(settings: Settings, count: int, run: int) -> float:
    """Mentions per second, from the first normalisation to the last consumer commit."""
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    producer = make_producer(settings, "bench-ingest")
    publisher = Publisher(producer, factory, "ingest", settings.topic_prefix)
    runner = ConsumerRunner(settings=settings, group=f"ingest-bench-{run}", handlers=HANDLERS,
                            session_factory=factory, publisher=publisher,
                            metrics=ServiceMetrics("ingest"))
    handled: list[int] = []
    consumer = threading.Thread(target=lambda: handled.append(
        runner.run(max_messages=count, idle_timeout=60)))
    consumer.start()
    runner.started.wait(60)
    time.sleep(3)  # let the consumer join its group before the clock starts
    origin = Origin("agency", f"brand-{run}", "account", "sandbox")
    items = mentions(count, run)
    started = time.perf_counter()
    for first in range(0, count, PAGE):  # as the collector does: a page per transaction
        with transaction(factory) as session:
            publisher.stage(session, store_mentions(session, origin, items[first:first + PAGE]))
        publisher.flush_outbox()
    consumer.join()
    elapsed = time.perf_counter() - started
    producer.close()
    engine.dispose()
    assert handled == [count], f"handled {handled} of {count}"
    return count / elapsed


def raw_rate(settings: Settings, count: int, size: int = 900) -> float:
    """kafka-python alone: produce `count` messages (acks=all) and consume them back."""
    topic = f"{settings.topic_prefix}raw.{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers,
                             group_id=f"raw-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest",
                             enable_auto_commit=False)
    consumer.poll(timeout_ms=2000)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)
    payload = b"x" * size
    started = time.perf_counter()
    for index in range(count):
        producer.send(topic, key=str(index % 10).encode(), value=payload)
    producer.flush()
    received = 0
    while received < count and time.perf_counter() - started < 120:
        for records in consumer.poll(timeout_ms=500).values():
            received += len(records)
            consumer.commit()
    elapsed = time.perf_counter() - started
    producer.close()
    consumer.close()
    return received / elapsed


def main(count: int = 2000, runs: int = 5) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = settings_for(Path(folder))
        import_all_models()
        engine = make_engine(settings.database_url)
        Base.metadata.create_all(engine)
        engine.dispose()
        ensure_topics(settings)
        run_numbers = iter(range(runs))
        pipeline, pipeline_runs = median_of(runs, lambda: pipeline_rate(
            settings, count, next(run_numbers)))
        raw, raw_runs = median_of(runs, lambda: raw_rate(settings, count))
    report("ingest_pipeline", mentions=count, runs=runs,
           pipeline_mentions_per_s=round(pipeline, 1),
           raw_kafka_messages_per_s=round(raw, 1), ratio=round(pipeline / raw, 4),
           pipeline_runs=[round(v, 1) for v in pipeline_runs],
           raw_runs=[round(v, 1) for v in raw_runs], database="sqlite")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
