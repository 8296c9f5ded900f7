"""A consumer process for the crash test: it handles AccountDisconnected events by adding a
row to an `effects` table, through the real ConsumerRunner. With --crash it kills itself
with SIGKILL right after the database commit and before the Kafka offset commit.

    python -m tests.support.effect_consumer DATABASE_URL PREFIX [--crash]
"""

from __future__ import annotations

import os
import signal
import sys

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.bus import Publisher, make_producer
from shared.config import Settings
from shared.db import make_engine, make_session_factory
from shared.events import AccountDisconnected, Event
from shared.metrics import ServiceMetrics
from shared.runner import ConsumerRunner


def add_effect(event: Event, session: Session) -> list[Event]:
    session.execute(text("INSERT INTO effects (event_id) VALUES (:id)"), {"id": event.id})
    return []


def main() -> None:
    database_url, prefix = sys.argv[1], sys.argv[2]
    crash = "--crash" in sys.argv
    settings = Settings(database_url=database_url, topic_prefix=prefix, demo=False,
                        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    producer = make_producer(settings, "effect-consumer")

    def kill_self(_: Event) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    runner = ConsumerRunner(
        settings=settings, group="effects", handlers={AccountDisconnected.type: add_effect},
        session_factory=factory, publisher=Publisher(producer, factory, "effects", prefix),
        metrics=ServiceMetrics("effects"), after_transaction=kill_self if crash else None,
    )
    handled = runner.run(max_messages=1, idle_timeout=20)
    print(f"handled {handled}", flush=True)
    producer.close()


if __name__ == "__main__":
    main()
