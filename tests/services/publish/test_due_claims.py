"""The due-post scan: concurrent scheduler replicas never claim a post twice (SQLite: atomic
conditional UPDATE; PostgreSQL: FOR UPDATE SKIP LOCKED), and the claim and its PostDue commit
together in the outbox. On PostgreSQL the scan uses the (status, publish_at) index."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine

from services.publish.models import ScheduledPost
from services.publish.scheduler import claim_due_posts, reclaim_stale
from shared.bus import add_to_outbox
from shared.db import Base, make_engine, make_session_factory, transaction
from shared.models import OutboxEvent

NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def add_posts(engine: Engine, due: int, future: int) -> None:
    rows = [
        {"id": f"p{i:06d}", "agency_id": "ag", "brand_id": "br", "account_id": f"acc{i % 7}",
         "network": "sandbox", "text": "t", "media": [], "thread": [], "first_comment": "",
         "mode": "fixed", "status": "scheduled", "generation": 1, "retries": 0, "url": "",
         "schedule_note": "", "first_comment_state": "none", "failure_reason": "",
         "created_at": NOW, "updated_at": NOW,
         "publish_at": NOW - timedelta(seconds=i) if i < due else NOW + timedelta(minutes=i)}
        for i in range(due + future)
    ]
    with engine.begin() as connection:
        connection.execute(ScheduledPost.__table__.insert(), rows)


def claim_concurrently(engine: Engine, replicas: int = 4, batch: int = 25) -> list[list[str]]:
    factory = make_session_factory(engine)
    claimed: list[list[str]] = [[] for _ in range(replicas)]
    start = threading.Barrier(replicas)

    def replica(index: int) -> None:
        start.wait()
        while True:
            with transaction(factory) as session:
                events = claim_due_posts(session, NOW, batch)
                add_to_outbox(session, events, source="publish", prefix="")
            if not events:
                return
            claimed[index].extend(event.data.post_id for event in events)

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return claimed


def assert_each_due_post_claimed_once(engine: Engine, claimed: list[list[str]], due: int) -> None:
    every = [post_id for part in claimed for post_id in part]
    assert len(every) == len(set(every)) == due
    assert sum(1 for part in claimed if part) >= 1
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == due
        statuses = dict(session.execute(select(ScheduledPost.status, func.count())
                                        .group_by(ScheduledPost.status)).all())
    assert statuses["due"] == due


def test_concurrent_replicas_on_sqlite_claim_each_due_post_once(engine):
    add_posts(engine, due=300, future=200)
    claimed = claim_concurrently(engine)
    assert_each_due_post_claimed_once(engine, claimed, 300)


def test_the_claim_returns_due_posts_oldest_first_and_leaves_future_ones(session_factory, engine):
    add_posts(engine, due=5, future=5)
    with transaction(session_factory) as session:
        events = claim_due_posts(session, NOW, limit=3)
    assert [e.data.post_id for e in events] == ["p000004", "p000003", "p000002"]
    assert {e.key for e in events} == {e.data.account_id for e in events}  # keyed by account


def test_a_stale_claim_is_sent_again_but_a_fresh_one_is_not(session_factory, engine):
    add_posts(engine, due=2, future=0)
    with transaction(session_factory) as session:
        claim_due_posts(session, NOW, limit=10)
    with transaction(session_factory) as session:
        assert reclaim_stale(session, NOW + timedelta(minutes=5)) == []
    with transaction(session_factory) as session:
        again = reclaim_stale(session, NOW + timedelta(minutes=70))
    assert sorted(e.data.post_id for e in again) == ["p000000", "p000001"]


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """Publish's table in a schema of its own, dropped afterwards."""
    schema = f"publish_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as error:  # noqa: BLE001 - the server is not there
        from tests.conftest import unavailable

        unavailable(f"PostgreSQL ({type(error).__name__})")
    engine = make_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    Base.metadata.create_all(engine, tables=[ScheduledPost.__table__, OutboxEvent.__table__])
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.mark.postgres
def test_concurrent_replicas_on_postgres_skip_locked_rows_and_claim_each_post_once(postgres_engine):
    add_posts(postgres_engine, due=400, future=100)
    claimed = claim_concurrently(postgres_engine, replicas=4, batch=20)
    assert_each_due_post_claimed_once(postgres_engine, claimed, 400)
    assert sum(1 for part in claimed if part) > 1  # SKIP LOCKED let them work side by side


@pytest.mark.postgres
def test_the_due_scan_uses_the_status_and_time_index_on_postgres(postgres_engine):
    add_posts(postgres_engine, due=50, future=20000)
    with postgres_engine.begin() as connection:
        connection.execute(text("ANALYZE publish_posts"))
    statements: list[tuple[str, dict]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append((statement, parameters))

    event.listen(postgres_engine, "before_cursor_execute", capture)
    try:
        with make_session_factory(postgres_engine)() as session:
            claim_due_posts(session, NOW, 100)
            session.rollback()
    finally:
        event.remove(postgres_engine, "before_cursor_execute", capture)
    statement, parameters = statements[-1]
    with postgres_engine.connect() as connection:
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(
            "EXPLAIN " + statement, parameters).all())
    assert "ix_publish_posts_due" in plan, plan
