"""10,000 posts due at the same second, published to the sandbox network: throughput and
p50/p99 lateness (the network's acceptance time minus the time the post was due).

Runs the real processes: the api service (it serves the sandbox network over HTTP) and
`--replicas` publish services (scheduler loop + consumer each), on Kafka and SQLite (or the
`--database-url` given). The posts are written straight into the schedule (100 accounts),
all due at one second a few seconds ahead, so the figure is the due -> published path.

The baseline, measured in the same run against the same api process: the sandbox network
called directly by its adapter (no Kafka, no database on our side), with as many threads as
a publish consumer uses on that database. The ratio pipeline/direct is the figure to compare.

    python -m bench.publish_lateness [--posts 10000] [--replicas 1] [--database-url ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from bench.common import percentile, report
from services.api.keys import create_agency
from services.publish.models import ScheduledPost
from shared.bus import ensure_topics
from shared.config import ROOT, Settings
from shared.db import Base, import_all_models, make_engine, make_session_factory, transaction
from shared.migrate import upgrade
from shared.models import Brand, SocialAccount
from tests.conftest import free_port
from tests.support.processes import ServiceProcess

ACCOUNTS = 100
LEAD_S = 5.0


def prepare(settings: Settings) -> tuple[str, str, list[str]]:
    upgrade(settings.database_url)
    import_all_models()
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    sandbox = f"http://127.0.0.1:{settings.api_port}/sandbox/api"
    with transaction(make_session_factory(engine)) as session:
        agency, _ = create_agency(session, "Bench")
        brand = Brand(agency_id=agency.id, name="Bench brand")
        session.add(brand)
        session.flush()
        accounts = [SocialAccount(agency_id=agency.id, brand_id=brand.id, network="sandbox",
                                  handle=f"bench{i}", settings={"base_url": sandbox})
                    for i in range(ACCOUNTS)]
        session.add_all(accounts)
        session.flush()
        ids = agency.id, brand.id, [a.id for a in accounts]
    engine.dispose()
    return ids


def schedule(settings: Settings, agency_id: str, brand_id: str, accounts: list[str],
             posts: int, due: datetime) -> None:
    engine = make_engine(settings.database_url)
    rows = [{"id": f"b{i:06d}", "agency_id": agency_id, "brand_id": brand_id,
             "account_id": accounts[i % len(accounts)], "network": "sandbox",
             "text": f"Publication {i}", "media": [], "thread": [], "first_comment": "",
             "mode": "fixed", "publish_at": due, "schedule_note": "", "status": "scheduled",
             "generation": 1, "retries": 0, "url": "", "first_comment_state": "none",
             "failure_reason": "", "created_at": due, "updated_at": due} for i in range(posts)]
    with engine.begin() as connection:
        connection.execute(ScheduledPost.__table__.insert(), rows)
    engine.dispose()


def own_schema(url: str) -> tuple[str, str]:
    """A PostgreSQL schema for this run; the URL sends every process there."""
    schema = f"bench_lateness_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}", schema


def drop_schema(url: str, schema: str) -> None:
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tamtam-bench-publish-"))
    database_url, schema = args.database_url or f"sqlite:///{folder / 'bench.db'}", None
    if database_url.startswith("postgresql"):
        database_url, schema = own_schema(database_url)
    settings = Settings(
        database_url=database_url,
        topic_prefix=f"bench{uuid.uuid4().hex[:6]}.", topic_partitions=args.partitions,
        demo=False, secret_keys="Y1hUkUHsa3s0Bq4WkJrYbyQ7pIa_zzcVHbpJ4eY2fSI=",
        api_port=free_port(), publish_port=free_port(), log_level="WARNING",
    )
    ensure_topics(settings)
    agency_id, brand_id, accounts = prepare(settings)
    api = ServiceProcess("api", settings, folder / "api.log").start()
    replicas = [ServiceProcess("publish", settings.model_copy(update={"publish_port": free_port()}),
                               folder / f"publish{i}.log") for i in range(args.replicas)]
    try:
        for replica in replicas:
            replica.start()
        due = (datetime.now(UTC) + timedelta(seconds=LEAD_S)).replace(microsecond=0)
        schedule(settings, agency_id, brand_id, accounts, args.posts, due)
        engine = make_engine(settings.database_url)
        factory = make_session_factory(engine)
        published = select(func.count()).select_from(ScheduledPost).where(
            ScheduledPost.status == "published")
        deadline = time.monotonic() + 1500
        while True:
            with factory() as session:
                done = session.scalar(published) or 0
            if done >= args.posts:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {args.posts} published")
            time.sleep(1.0)
        with factory() as session:
            times = session.scalars(select(ScheduledPost.published_at)).all()
        engine.dispose()
        direct = direct_rate(settings, accounts, min(args.posts, 2000), settings.handler_threads)
    finally:
        for replica in replicas:
            replica.stop()
        api.stop()
        if schema is not None:
            drop_schema(args.database_url, schema)
    lateness = [(moment - due).total_seconds() for moment in times]
    span = max(lateness)
    throughput = args.posts / span
    database = settings.database_url.split(":", 1)[0]
    report("publish_lateness", posts=args.posts, replicas=args.replicas,
           partitions=args.partitions, accounts=ACCOUNTS, database=database,
           throughput_per_s=round(throughput, 1),
           direct_sandbox_posts_per_s=round(direct, 1), consumer_threads=settings.handler_threads,
           ratio=round(throughput / direct, 3),
           lateness_p50_s=round(percentile(lateness, 50), 2),
           lateness_p99_s=round(percentile(lateness, 99), 2),
           lateness_max_s=round(span, 2),
           plot=str(plot_lateness(lateness, args.posts, database)))


def direct_rate(settings: Settings, accounts: list[str], count: int, threads: int) -> float:
    """Posts per second when the sandbox adapter publishes straight to the api process."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from plugins.networks.base import Account, OutgoingPost
    from plugins.networks.sandbox import SandboxAdapter

    base_url = f"http://127.0.0.1:{settings.api_port}/sandbox/api"
    run = uuid.uuid4().hex[:6]
    with httpx.Client(timeout=20.0) as http:
        adapter = SandboxAdapter(http=http)
        targets = [Account(id=account, handle=f"bench{i}", credentials={},
                           settings={"base_url": base_url, "timezone": "UTC"})
                   for i, account in enumerate(accounts)]

        def publish(i: int) -> None:
            adapter.publish(OutgoingPost(text=f"Direct {i}", idempotency_key=f"direct-{run}-{i}"),
                            targets[i % len(targets)])

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(publish, range(count)))
        return count / (time.perf_counter() - started)


def plot_lateness(lateness: list[float], posts: int, database: str) -> Path:
    """var/bench/publish_lateness_<database>.png: the share of posts out by each lateness."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kind = "postgresql" if database.startswith("postgresql") else "sqlite"
    out = ROOT / "var" / "bench" / f"publish_lateness_{kind}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(lateness)
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(ordered, [(i + 1) / len(ordered) * 100 for i in range(len(ordered))])
    axes.set_xlabel("lateness: published at minus due at (s)")
    axes.set_ylabel("posts published (%)")
    axes.set_title(f"{posts} posts due at the same second, sandbox network, {kind}")
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


if __name__ == "__main__":
    main()
