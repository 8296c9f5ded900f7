"""Collection: polls every connected account's mentions and its tracked posts' metrics through
the network plugins, and the brands' RSS/Atom feeds. Runs as a background loop of the
ingest process (`collect`, wired in main.py).

Cursors. Each (account, mentions|metrics) has a row in `ingest_poll_cursors` holding the
network's cursor, when the next poll is due, and a lease. One page of mentions is stored,
its events staged in the outbox and the cursor advanced in ONE transaction; only then is the
next page asked for. So after a crash (even SIGKILL) polling resumes from the cursor of the
last committed page: the page that was in flight is fetched again (no gap), and mentions
already stored are skipped by their natural key (no duplicate); events left in the outbox
are sent at the next start.

Rate limits. Each network has a poll interval (DEFAULT_INTERVALS, chosen under its documented
limits; `TAMTAM_INGEST_POLL_INTERVALS` overrides), metrics are polled 5× less often, and a
`RetryLater(after)` moves the next poll to at least `after` seconds later (else exponential
back-off with jitter, capped at an hour). `AuthExpired` waits an hour (publish reports the
disconnection); a capability the network lacks is never polled.

Replicas. A poll starts by taking the row's lease (30 s, renewed with each page) with a
conditional UPDATE, so two ingest replicas never poll the same account at once; the lease of
a poller that crashed lapses, so a restart resumes within 30 seconds.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from plugins.networks import NetworkRegistry, UnknownNetwork
from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    Account,
    AuthExpired,
    NetworkAdapter,
    RetryLater,
    Unsupported,
)
from services.ingest import feeds, trends
from services.ingest.mentions import Origin, store_mentions
from services.ingest.models import Feed, PollCursor, TrackedPost
from shared.bus import Publisher
from shared.config import Settings
from shared.crypto import SecretBox
from shared.db import transaction, utcnow
from shared.events import Event, MetricsObserved, new_event
from shared.models import SocialAccount
from shared.netguard import AllowList, BlockedAddress, guarded_get

log = logging.getLogger(__name__)

MENTIONS, METRICS = "mentions", "metrics"
KINDS = {MENTIONS: FETCH_MENTIONS, METRICS: FETCH_METRICS}
# Seconds between polls, under each network's documented limits for these calls.
DEFAULT_INTERVALS: dict[str, float] = {
    "x": 300.0,  # mentions timeline: a few requests per 15 minutes on the lower tiers
    "linkedin": 300.0,  # daily application quotas
    "facebook": 120.0, "instagram": 120.0, "threads": 120.0,  # Graph API usage limits
    "mastodon": 60.0,  # 300 requests / 5 minutes per token
    "bluesky": 60.0,  # 3,000 requests / 5 minutes
    "telegram": 30.0,  # getUpdates has no published limit; stay polite
    "sandbox": 10.0,
}
METRICS_EVERY = 5
LEASE = timedelta(seconds=30)  # renewed at each page; a crashed poller's lapses soon
MAX_BACKOFF_S = 3600.0
RETRIES_ON_RACE = 3


@dataclass
class Collector:
    session_factory: sessionmaker[Session]
    registry: NetworkRegistry
    secrets: SecretBox
    settings: Settings
    publisher: Publisher
    clock: Any = utcnow
    adapters: dict[str, NetworkAdapter] = field(default_factory=dict)
    last_cleanup: datetime | None = None

    @property
    def allow(self) -> AllowList:
        return AllowList.parse(self.settings.fetch_allow_networks)

    def interval(self, network: str, kind: str = MENTIONS) -> float:
        base = self.settings.ingest_poll_intervals.get(
            network, DEFAULT_INTERVALS.get(network, self.settings.ingest_poll_interval_s))
        return base * (METRICS_EVERY if kind == METRICS else 1)

    def tick_seconds(self) -> float:
        smallest = min([self.settings.ingest_poll_interval_s,
                        *self.settings.ingest_poll_intervals.values()])
        return max(0.05, min(1.0, smallest / 4))

    def adapter(self, network: str) -> NetworkAdapter:
        if network not in self.adapters:
            self.adapters[network] = self.registry.create(network)
        return self.adapters[network]

    # --- one round ------------------------------------------------------------------------

    def run_once(self) -> int:
        """Poll every due (account, kind) and every due feed once; returns polls made."""
        polls = 0
        for account_id, kind in self._due():
            if self._claim(account_id, kind):
                polls += 1
                self._poll(account_id, kind)
        polls += self.poll_feeds()
        self._cleanup()
        return polls

    def _due(self) -> list[tuple[str, str]]:
        now = self.clock()
        due: list[tuple[str, str]] = []
        with self.session_factory() as session:
            accounts = session.scalars(
                select(SocialAccount).where(SocialAccount.status == "connected")).all()
            cursors = {(c.account_id, c.kind): c for c in session.scalars(select(PollCursor))}
            for account in accounts:
                try:
                    adapter = self.adapter(account.network)
                except UnknownNetwork:
                    continue
                for kind, capability in KINDS.items():
                    if not adapter.supports(capability):
                        continue
                    cursor = cursors.get((account.id, kind))
                    if cursor is None:
                        self._create_cursor(account, kind)
                        due.append((account.id, kind))
                    elif cursor.next_poll_at <= now and (
                            cursor.lease_until is None or cursor.lease_until < now):
                        due.append((account.id, kind))
        return due

    def _create_cursor(self, account: SocialAccount, kind: str) -> None:
        try:
            with transaction(self.session_factory) as session:
                session.add(PollCursor(agency_id=account.agency_id, account_id=account.id,
                                       kind=kind, next_poll_at=self.clock()))
        except IntegrityError:
            pass  # another replica created it

    def _claim(self, account_id: str, kind: str) -> bool:
        now = self.clock()
        with transaction(self.session_factory) as session:
            taken = session.execute(
                update(PollCursor)
                .where(PollCursor.account_id == account_id, PollCursor.kind == kind,
                       PollCursor.next_poll_at <= now,
                       or_(PollCursor.lease_until.is_(None), PollCursor.lease_until < now))
                .values(lease_until=now + LEASE)
            ).rowcount  # type: ignore[attr-defined]
        return bool(taken)

    def _poll(self, account_id: str, kind: str) -> None:
        with self.session_factory() as session:
            account = session.get(SocialAccount, account_id)
            cursor_row = session.get(PollCursor, (account_id, kind))
            assert cursor_row is not None
            saved_cursor, failures = cursor_row.cursor, cursor_row.failures
        if account is None or account.status != "connected":
            self._release(account_id, kind, wait=3600, failures=0, error="account gone")
            return
        interval = self.interval(account.network, kind)
        try:
            if kind == MENTIONS:
                self._poll_mentions(account, saved_cursor)
            else:
                self._poll_metrics(account)
        except RetryLater as error:
            wait = max(error.after or self._backoff(interval, failures), interval)
            self._release(account_id, kind, wait, failures + 1, f"retry later: {error.reason}")
            return
        except AuthExpired as error:
            self._release(account_id, kind, 3600, failures + 1, f"authorization: {error.reason}")
            return
        except Unsupported as error:
            self._release(account_id, kind, 86400, failures, str(error))
            return
        except Exception as error:  # a plugin may fail in any way; back off, never die
            log.exception("poll failed", extra={"account_id": account_id, "kind": kind})
            self._release(account_id, kind, self._backoff(interval, failures), failures + 1,
                          f"{type(error).__name__}: {error}"[:500])
            return
        self._release(account_id, kind, interval, 0, "")

    @staticmethod
    def _backoff(interval: float, failures: int) -> float:
        wait = min(MAX_BACKOFF_S, interval * 2 ** min(failures, 10))
        return wait * random.uniform(0.8, 1.2)

    def _release(self, account_id: str, kind: str, wait: float, failures: int, error: str) -> None:
        now = self.clock()
        with transaction(self.session_factory) as session:
            row = session.get(PollCursor, (account_id, kind))
            if row is not None:
                row.next_poll_at = now + timedelta(seconds=wait)
                row.lease_until, row.failures, row.last_error = None, failures, error
                row.last_polled_at = now

    def _account(self, account: SocialAccount) -> Account:
        credentials = (self.secrets.open(account.credentials_encrypted)
                       if account.credentials_encrypted else {})
        return Account(id=account.id, handle=account.handle, credentials=credentials,
                       settings=dict(account.settings or {}))

    # --- mentions -------------------------------------------------------------------------

    def _poll_mentions(self, account: SocialAccount, cursor: str | None) -> None:
        adapter, network_account = self.adapter(account.network), self._account(account)
        origin = Origin(account.agency_id, account.brand_id, account.id, account.network)
        for _ in range(self.settings.ingest_max_pages_per_poll):
            page = adapter.fetch_mentions(network_account, cursor)
            next_cursor = page.cursor or cursor
            self._commit(partial(self._store_page, account_id=account.id, origin=origin,
                                 mentions=page.mentions, cursor=next_cursor))
            if not page.mentions or next_cursor == cursor:
                return
            cursor = next_cursor

    def _store_page(self, session: Session, account_id: str, origin: Origin,
                    mentions: Any, cursor: str | None) -> list[Event]:
        events = store_mentions(session, origin, mentions, source="poll")
        row = session.get(PollCursor, (account_id, MENTIONS))
        if row is not None:
            row.cursor, row.lease_until = cursor, self.clock() + LEASE
        return events

    def _commit(self, work: Any) -> None:
        """Run `work(session) -> events` in one transaction with its events in the outbox,
        retrying when another writer won a race (unique key, row version); then send."""
        for attempt in range(RETRIES_ON_RACE):
            try:
                with transaction(self.session_factory) as session:
                    self.publisher.stage(session, work(session))
                break
            except (IntegrityError, StaleDataError):
                if attempt == RETRIES_ON_RACE - 1:
                    raise
        try:
            self.publisher.flush_outbox()
        except Exception as error:  # the outbox keeps them; the next flush sends them
            log.warning("outbox flush failed", extra={"error": str(error)})

    # --- metrics --------------------------------------------------------------------------

    def _poll_metrics(self, account: SocialAccount) -> None:
        since = self.clock() - timedelta(days=self.settings.ingest_metrics_days)
        with self.session_factory() as session:
            ids = list(session.scalars(select(TrackedPost.external_id).where(
                TrackedPost.account_id == account.id, TrackedPost.external_id.is_not(None),
                or_(TrackedPost.published_at.is_(None), TrackedPost.published_at >= since))))
        if not ids:
            return
        observed = self.adapter(account.network).fetch_metrics(self._account(account), ids)
        self._commit(lambda session: record_metrics(session, account.network, observed,
                                                    self.clock()))

    # --- feeds ----------------------------------------------------------------------------

    def poll_feeds(self, limit: int = 20) -> int:
        now = self.clock()
        with self.session_factory() as session:
            due = list(session.scalars(select(Feed.id).where(Feed.next_poll_at <= now)
                                       .order_by(Feed.next_poll_at).limit(limit)))
        polled = 0
        for feed_id in due:
            with transaction(self.session_factory) as session:
                taken = session.execute(update(Feed).where(
                    Feed.id == feed_id, Feed.next_poll_at <= now).values(
                    next_poll_at=now + timedelta(seconds=self.settings.ingest_feed_interval_s))
                ).rowcount  # type: ignore[attr-defined]
            if taken:
                polled += 1
                self.read_feed(feed_id)
        return polled

    def read_feed(self, feed_id: str) -> None:
        with self.session_factory() as session:
            feed = session.get(Feed, feed_id)
            if feed is None:
                return
            url, etag, modified = feed.url, feed.etag, feed.last_modified
        headers = {"User-Agent": "Tamtam feed reader", "Accept": "application/rss+xml, "
                   "application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        try:
            response = guarded_get(url, allow=self.allow, headers=headers)
            if response.status_code == 304:
                return self._feed_done(feed_id, "")
            if response.status_code >= 400:
                return self._feed_done(feed_id, f"HTTP {response.status_code}", failed=True)
            title, items = feeds.parse_feed(response.content)
        except (BlockedAddress, feeds.FeedError, ValueError) as error:
            return self._feed_done(feed_id, str(error)[:500], failed=True)
        except Exception as error:  # network errors of any kind: try again next time
            return self._feed_done(feed_id, f"{type(error).__name__}: {error}"[:500], failed=True)
        source = f"feed:{urlsplit(url).hostname}"
        self._commit(lambda session: self._store_feed_items(
            session, feed_id, title, items, source, response.headers))

    def _store_feed_items(self, session: Session, feed_id: str, title: str,
                          items: list[feeds.FeedItem], source: str, headers: Any) -> list[Event]:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return []
        first_read = not feed.seen
        fresh, feed.seen = feeds.new_items(items, list(feed.seen))
        feed.title = feed.title or title[:300]
        feed.etag = headers.get("etag", "")[:300]
        feed.last_modified = headers.get("last-modified", "")[:100]
        feed.failures, feed.last_error = 0, ""
        if first_read:
            return []  # a feed's back catalogue is not news
        now = self.clock()
        events: list[Event] = []
        for item in fresh:
            moment = min(item.published or now, now)
            events += trends.observe_item(
                session, agency_id=feed.agency_id, brand_id=feed.brand_id, text=item.text,
                moment=moment, source=source)
        return events

    def _feed_done(self, feed_id: str, error: str, failed: bool = False) -> None:
        with transaction(self.session_factory) as session:
            feed = session.get(Feed, feed_id)
            if feed is not None:
                feed.last_error = error
                feed.failures = feed.failures + 1 if failed else 0
                if failed:
                    wait = min(86400.0, self.settings.ingest_feed_interval_s
                               * 2 ** min(feed.failures, 6))
                    feed.next_poll_at = self.clock() + timedelta(seconds=wait)

    # --- housekeeping ---------------------------------------------------------------------

    def _cleanup(self) -> None:
        now = self.clock()
        if self.last_cleanup is not None and now - self.last_cleanup < timedelta(hours=1):
            return
        self.last_cleanup = now
        week_ago = trends.slot_of(now - timedelta(days=7), trends.TrendConfig())
        try:
            with transaction(self.session_factory) as session:
                trends.forget_quiet_terms(session, week_ago)
        except Exception as error:  # housekeeping must never stop collection
            log.warning("trend clean-up failed", extra={"error": str(error)})


def record_metrics(session: Session, network: str, observed: Any, now: datetime) -> list[Event]:
    """Store the latest metrics of tracked posts; a `metrics.observed` when they changed."""
    events: list[Event] = []
    by_id = {m.external_id: m for m in observed}
    if not by_id:
        return events
    for post in session.scalars(select(TrackedPost).where(
            TrackedPost.network == network, TrackedPost.external_id.in_(list(by_id)))):
        metrics = by_id[post.external_id]  # type: ignore[index]
        values = (metrics.likes, metrics.reposts, metrics.replies, metrics.quotes,
                  metrics.impressions)
        if post.metrics_at is not None and values == (
                post.likes, post.reposts, post.replies, post.quotes, post.impressions):
            continue
        post.likes, post.reposts, post.replies, post.quotes, post.impressions = values
        post.metrics_at = now
        events.append(new_event(MetricsObserved(
            brand_id=post.brand_id, account_id=post.account_id, network=network,
            post_id=post.post_id, external_id=post.external_id or "", likes=metrics.likes,
            reposts=metrics.reposts, replies=metrics.replies, quotes=metrics.quotes,
            impressions=metrics.impressions, observed_at=now, published_at=post.published_at,
            content_type=post.content_type, hashtags=list(post.hashtags),
        ), tenant=post.agency_id, source="ingest"))
    return events


def collect(context: Any, stop: threading.Event) -> None:
    """The ingest process's background loop (see main.py)."""
    collector = Collector(
        session_factory=context.session_factory, registry=context.extras["networks"],
        secrets=context.extras["secrets"], settings=context.settings,
        publisher=context.publisher,
    )
    log.info("collector started")
    while not stop.is_set():
        try:
            collector.run_once()
        except Exception:  # keep collecting; the next round retries
            log.exception("collection round failed")
        stop.wait(collector.tick_seconds())
