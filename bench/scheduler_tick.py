"""The publish scheduler's tick on PostgreSQL: the due-post claim (FOR UPDATE SKIP LOCKED,
plus the stale-claim sweep, then the PostDue events written to the outbox, one transaction;
the Kafka send after it is not counted) among 10,000 and
1,000,000 future schedules. Checks that the plan uses the (status, publish_at) index and
reports median times of an idle tick (nothing due) and of a tick claiming 100 due posts.

    python -m bench.scheduler_tick [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bench.common import POSTGRES_URL, report
from services.publish.models import ScheduledPost
from services.publish.scheduler import claim_due_posts, reclaim_stale
from shared.bus import add_to_outbox
from shared.db import Base, make_engine, make_session_factory, transaction
from shared.models import OutboxEvent

SIZES = (10_000, 1_000_000)
TICKS = 21
DUE_PER_TICK = 100

FILL = """
INSERT INTO publish_posts (id, agency_id, brand_id, account_id, network, text, media, thread,
    first_comment, mode, publish_at, schedule_note, status, generation, retries, url,
    first_comment_state, failure_reason, created_at, updated_at)
SELECT 'f' || g, 'agency', 'brand', 'acc' || (g % 1000), 'sandbox', 'Texte ' || g, '[]', '[]',
    '', 'fixed', now() + (g || ' seconds')::interval * 30, '', 'scheduled', 1, 0, '', 'none', '',
    now(), now()
FROM generate_series(1, :rows) AS g
"""
ADD_DUE = """
INSERT INTO publish_posts (id, agency_id, brand_id, account_id, network, text, media, thread,
    first_comment, mode, publish_at, schedule_note, status, generation, retries, url,
    first_comment_state, failure_reason, created_at, updated_at)
SELECT 'd' || :batch || '-' || g, 'agency', 'brand', 'acc' || (g % 1000), 'sandbox', 't', '[]',
    '[]', '', 'fixed', now() - (g || ' seconds')::interval, '', 'scheduled', 1, 0, '', 'none',
    '', now(), now()
FROM generate_series(1, :rows) AS g
"""


def plan_of_claim(engine: Engine) -> str:
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with make_session_factory(engine)() as session:
            claim_due_posts(session, datetime.now(UTC), DUE_PER_TICK)
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()  # type: ignore[arg-type]
    return "\n".join(row[0] for row in rows)


def tick(engine: Engine) -> tuple[float, int]:
    factory = make_session_factory(engine)
    start = time.perf_counter()
    with transaction(factory) as session:
        now = datetime.now(UTC)
        events = claim_due_posts(session, now, DUE_PER_TICK) + reclaim_stale(session, now)
        add_to_outbox(session, events, source="publish", prefix="bench.")
    return time.perf_counter() - start, len(events)


def measure(engine: Engine, rows: int) -> dict[str, object]:
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE publish_posts, outbox_events"))
        connection.execute(text(FILL), {"rows": rows})
        connection.execute(text("ANALYZE publish_posts"))
    plan = plan_of_claim(engine)
    idle = [tick(engine)[0] for _ in range(TICKS)]
    busy = []
    for batch in range(TICKS):
        with engine.begin() as connection:
            connection.execute(text(ADD_DUE), {"rows": DUE_PER_TICK, "batch": batch})
        seconds, claimed = tick(engine)
        assert claimed == DUE_PER_TICK, claimed
        busy.append(seconds)
    return {
        "rows": rows,
        "uses_index": "ix_publish_posts_due" in plan,
        "plan": " | ".join(line.strip() for line in plan.splitlines()),
        "idle_tick_ms_median": round(statistics.median(idle) * 1000, 3),
        "tick_100_due_ms_median": round(statistics.median(busy) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=POSTGRES_URL)
    args = parser.parse_args()
    schema = f"bench_publish_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.database_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(args.database_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        Base.metadata.create_all(engine, tables=[ScheduledPost.__table__, OutboxEvent.__table__])
        measured = [measure(engine, rows) for rows in SIZES]
        smallest = measured[0]  # the baseline: the same tick on the smallest table, same run
        for figures in measured:
            print(figures.pop("plan"), flush=True)
            if figures is not smallest:
                figures[f"idle_ratio_vs_{smallest['rows']}"] = round(
                    figures["idle_tick_ms_median"] / smallest["idle_tick_ms_median"], 2)
            report("scheduler_tick", **figures)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
