"""Fixtures shared by the whole suite.

Integration tests use the real Kafka broker (`make test` starts one) and a real database
(SQLite in a temporary folder; PostgreSQL when TAMTAM_TEST_POSTGRES_URL is set). With
CI=true a test whose broker or database is missing fails instead of skipping.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared import localkafka
from shared.bus import ensure_topics
from shared.config import Settings
from shared.db import Base, import_all_models, make_engine, make_session_factory

IN_CI = os.environ.get("CI", "").lower() == "true"
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def unavailable(what: str) -> None:
    """Fail in CI, skip elsewhere: CI must run every test that needs a real component."""
    if IN_CI:
        pytest.fail(f"{what} is not available, and CI=true requires it", pytrace=False)
    pytest.skip(f"{what} is not available")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not localkafka.cluster_ready(BOOTSTRAP):
        unavailable(f"Kafka at {BOOTSTRAP} (make test starts one)")
    return BOOTSTRAP


@pytest.fixture
def topic_prefix() -> str:
    """Each test's topics are apart from every other test's and from `make run`'s."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tamtam.db'}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TAMTAM_TEST_POSTGRES_URL")
    if not url:
        unavailable("PostgreSQL (set TAMTAM_TEST_POSTGRES_URL)")
    return url  # type: ignore[return-value]


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    import_all_models()
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def settings(sqlite_url: str, topic_prefix: str) -> Settings:
    """Settings for one test: its own database, this run's topics, no demo, a fixed key."""
    return Settings(
        database_url=sqlite_url,
        kafka_bootstrap_servers=BOOTSTRAP,
        topic_prefix=topic_prefix,
        topic_partitions=1,
        handler_max_attempts=2,
        handler_retry_backoff_s=0.05,
        secret_keys="Y1hUkUHsa3s0Bq4WkJrYbyQ7pIa_zzcVHbpJ4eY2fSI=",
        demo=False,
        log_json=False,
    )


@pytest.fixture
def kafka_settings(settings: Settings, kafka_bootstrap: str) -> Iterator[Settings]:
    """`settings`, once every topic of this test exists on the real broker; the test's
    topics are deleted afterwards so that a long suite does not pile up partitions."""
    ensure_topics(settings)
    yield settings
    delete_topics_with_prefix(settings)


def delete_topics_with_prefix(settings: Settings) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="tamtam-tests")
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
    except Exception as error:  # clean-up only: never fail a test for it
        print(f"could not delete the test's topics: {error}")
    finally:
        admin.close()
