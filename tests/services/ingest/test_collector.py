"""Collection through an in-test network adapter: cursors kept in the database, rate limits
honoured, one row per mention whether polled or pushed, metrics of published posts, feeds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pluggy
import pytest
from sqlalchemy import func, select

from plugins.networks import NetworkRegistry, hookspecs
from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    PUBLISH_TEXT,
    Account,
    IncomingMention,
    Limits,
    MentionPage,
    NetworkAdapter,
    PostMetrics,
    RetryLater,
)
from plugins.networks.hookspecs import hookimpl
from services.ingest.collector import Collector
from services.ingest.handlers import on_post_published
from services.ingest.mentions import Origin, store_mentions
from services.ingest.models import Feed, Mention, PollCursor, TermStat, TrackedPost
from shared.bus import Publisher, make_producer
from shared.crypto import SecretBox
from shared.db import transaction
from shared.events import PostPublished, new_event
from shared.models import OutboxEvent
from tests.services.ingest.conftest import add_account, new_tenant

pytestmark = pytest.mark.kafka
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


class FakeNetwork(NetworkAdapter):
    """Mentions in order; the cursor is the index of the next one; pages of two."""

    name = "fakenet"
    display_name = "Fake network (tests)"
    limits = Limits(max_length=100, counting="characters",
                    capabilities=frozenset({PUBLISH_TEXT, FETCH_MENTIONS, FETCH_METRICS}))
    mentions: list[IncomingMention] = []
    cursors_asked: list[str | None] = []
    fail_with: RetryLater | None = None
    metrics: dict[str, PostMetrics] = {}

    def count(self, text: str) -> int:
        return len(text)

    def publish(self, post, account):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        type(self).cursors_asked.append(cursor)
        if type(self).fail_with is not None:
            error, type(self).fail_with = type(self).fail_with, None
            raise error
        start = int(cursor or 0)
        page = type(self).mentions[start:start + 2]
        return MentionPage(tuple(page), str(start + len(page)))

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        return [type(self).metrics[i] for i in external_ids if i in type(self).metrics]


class FakePlugin:
    @hookimpl
    def register_networks(self, register: Callable[[type], None]) -> None:
        register(FakeNetwork)


def mention(index: int, text: str = "Super café, merci !") -> IncomingMention:
    return IncomingMention(external_id=f"m{index}", author="camille", text=text,
                           created_at=T0 + timedelta(minutes=index))


@pytest.fixture
def registry() -> NetworkRegistry:
    manager = pluggy.PluginManager("tamtam.networks")
    manager.add_hookspecs(hookspecs)
    manager.register(FakePlugin())
    FakeNetwork.mentions = [mention(i) for i in range(5)]
    FakeNetwork.cursors_asked, FakeNetwork.fail_with, FakeNetwork.metrics = [], None, {}
    return NetworkRegistry(manager)


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(ingest_settings, ingest_factory, registry) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    settings = ingest_settings.model_copy(update={
        "ingest_poll_intervals": {"fakenet": 30.0}, "fetch_allow_networks": "127.0.0.1/32"})
    producer = make_producer(settings, "test-ingest")
    publisher = Publisher(producer, ingest_factory, "ingest", settings.topic_prefix)
    box = SecretBox.from_settings(settings)
    tenant = new_tenant(ingest_factory)
    account_id = add_account(ingest_factory, tenant, "fakenet", "cafe", {"token": "t"}, box=box)
    clock = Clock()

    def collector() -> Collector:  # a new one is a restart: nothing kept in memory
        return Collector(ingest_factory, registry, box, settings, publisher, clock=clock)

    yield {"collector": collector, "clock": clock, "tenant": tenant, "account_id": account_id,
           "factory": ingest_factory, "settings": settings}
    producer.close()


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_polling_pages_through_and_a_restart_resumes_from_the_stored_cursor(world):
    world["collector"]().run_once()
    assert count(world["factory"], Mention) == 5
    assert FakeNetwork.cursors_asked == [None, "2", "4", "5"]  # until a page comes back empty
    assert count(world["factory"], OutboxEvent) == 0  # every mentions.received was sent

    FakeNetwork.mentions += [mention(5), mention(6)]
    world["clock"].now += timedelta(seconds=31)
    world["collector"]().run_once()  # a new process: the cursor comes from the database
    assert FakeNetwork.cursors_asked[4] == "5"
    with world["factory"]() as session:
        ids = sorted(session.scalars(select(Mention.external_id)))
        cursor = session.get(PollCursor, (world["account_id"], "mentions"))
    assert ids == [f"m{i}" for i in range(7)]
    assert cursor.cursor == "7" and cursor.failures == 0


def test_the_poll_interval_and_retry_after_are_honoured(world):
    FakeNetwork.fail_with = RetryLater("rate limited", after=120)
    world["collector"]().run_once()
    asked = len(FakeNetwork.cursors_asked)
    world["clock"].now += timedelta(seconds=60)  # past the 30 s interval, not past Retry-After
    world["collector"]().run_once()
    assert len(FakeNetwork.cursors_asked) == asked
    world["clock"].now += timedelta(seconds=61)
    world["collector"]().run_once()
    assert len(FakeNetwork.cursors_asked) > asked
    assert count(world["factory"], Mention) == 5


def test_a_mention_pushed_by_webhook_then_polled_is_stored_once(world):
    tenant = world["tenant"]
    with transaction(world["factory"]) as session:
        origin = Origin(tenant.agency_id, tenant.brand_id, world["account_id"], "fakenet")
        pushed = store_mentions(session, origin, [mention(1)], source="webhook")
        again = store_mentions(session, origin, [mention(1)], source="webhook")
    assert len(pushed) == 1 and again == []
    world["collector"]().run_once()
    with world["factory"]() as session:
        rows = session.scalars(select(Mention).where(Mention.external_id == "m1")).all()
    assert len(rows) == 1 and rows[0].source == "webhook"
    assert count(world["factory"], Mention) == 5


def test_metrics_of_published_posts_are_polled_and_announced_when_they_change(world):
    tenant, factory = world["tenant"], world["factory"]
    published = new_event(PostPublished(
        brand_id=tenant.brand_id, post_id="p1", account_id=world["account_id"], network="fakenet",
        external_id="ext-1", published_at=T0), tenant=tenant.agency_id, source="publish")
    with transaction(factory) as session:
        on_post_published(published, session)
    FakeNetwork.metrics = {"ext-1": PostMetrics("ext-1", likes=10, replies=2, impressions=400)}
    collector = world["collector"]()
    collector.run_once()
    with factory() as session:
        post = session.scalars(select(TrackedPost)).one()
    assert (post.likes, post.replies, post.impressions) == (10, 2, 400)
    sent_before = post.metrics_at
    world["clock"].now += timedelta(seconds=151)  # metrics: 5 × the mention interval
    collector.run_once()
    with factory() as session:
        assert session.scalars(select(TrackedPost)).one().metrics_at == sent_before  # unchanged


RSS = ("""<?xml version="1.0"?><rss version="2.0"><channel><title>Actus</title>{items}"""
       """</channel></rss>""")
ITEM = "<item><guid>{id}</guid><title>{title}</title><pubDate>{date}</pubDate></item>"


class FeedHandler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args: object) -> None:
        pass


def test_feed_items_feed_the_trend_watch_and_the_back_catalogue_is_skipped(world):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        date = "Mon, 02 Jun 2025 09:30:00 GMT"
        old = ITEM.format(id="a", title="Vieux sujet", date=date)
        FeedHandler.body = RSS.format(items=old).encode()
        tenant = world["tenant"]
        with transaction(world["factory"]) as session:
            session.add(Feed(agency_id=tenant.agency_id, brand_id=tenant.brand_id,
                             url=f"http://127.0.0.1:{server.server_address[1]}/rss",
                             next_poll_at=T0))
        collector = world["collector"]()
        assert collector.poll_feeds() == 1
        assert count(world["factory"], TermStat) == 0  # first read: marked as seen only
        FeedHandler.body = RSS.format(items="".join([
            ITEM.format(id="a", title="Vieux sujet", date=date),
            ITEM.format(id="b", title="Pénurie de beurre annoncée", date=date)])).encode()
        world["clock"].now += timedelta(hours=1)
        assert collector.poll_feeds() == 1
        with world["factory"]() as session:
            terms = set(session.scalars(select(TermStat.term)))
            feed = session.scalars(select(Feed)).one()
        assert {"pénurie", "beurre"} <= terms and "vieux" not in terms
        assert feed.title == "Actus" and feed.last_error == ""
    finally:
        server.shutdown()
        server.server_close()


def test_a_feed_on_a_private_address_is_refused_at_fetch_time(world):
    tenant = world["tenant"]
    with transaction(world["factory"]) as session:
        session.add(Feed(agency_id=tenant.agency_id, brand_id=tenant.brand_id,
                         url="http://169.254.169.254/latest/meta-data/", next_poll_at=T0))
    world["collector"]().poll_feeds()
    with world["factory"]() as session:
        feed = session.scalars(select(Feed)).one()
    assert "169.254.169.254" in feed.last_error and feed.failures == 1
