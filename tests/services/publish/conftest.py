"""Fixtures of the publish tests: a database with every table, an agency with a brand in
Europe/Paris and its accounts, a fake clock, in-test network adapters registered on a real
registry, and `Harness.handle(event)`, which runs a handler the way the runner does (one
transaction, returned events staged in the outbox) and returns every event it produced."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pluggy
import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from plugins.networks import NetworkRegistry, hookspecs
from plugins.networks.base import (
    IDEMPOTENCY,
    LOOKUP,
    PUBLISH_MEDIA,
    PUBLISH_TEXT,
    REPLIES,
    THREADS,
    Account,
    Limits,
    NetworkAdapter,
    OutgoingPost,
    PublishResult,
)
from plugins.networks.hookspecs import hookimpl
from services.api.keys import create_agency
from services.publish.attempts import PublishDependencies, PublishPolicy
from services.publish.handlers import build_handlers
from shared.bus import add_to_outbox
from shared.config import Settings
from shared.crypto import SecretBox
from shared.db import Base, import_all_models, make_engine, make_session_factory, transaction
from shared.events import Event, Payload, decode, new_event
from shared.migrate import upgrade
from shared.models import Brand, OutboxEvent, SocialAccount

NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Paris


def prepare_database(url: str) -> None:
    """The migrated schema plus the tables no migration has yet (publish's, sandbox's)."""
    upgrade(url)
    import_all_models()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Crash(BaseException):
    """Stands for SIGKILL in the middle of a call: nothing after it runs, no except catches it."""


@dataclass
class FakeNetwork:
    """What the in-test network holds, and what it does on its next calls."""

    posts: dict[str, PublishResult] = field(default_factory=dict)  # by idempotency key
    published: list[OutgoingPost] = field(default_factory=list)  # every post it stored
    calls: list[OutgoingPost] = field(default_factory=list)  # every publish call
    lookups: int = 0
    script: list[Any] = field(default_factory=list)  # exceptions to raise, in order
    crash_after_storing: bool = False
    on_call: Callable[[OutgoingPost], None] | None = None

    def publish(self, post: OutgoingPost, deduplicate: bool) -> PublishResult:
        self.calls.append(post)
        if self.on_call is not None:
            self.on_call(post)
        if self.script:
            raise self.script.pop(0)
        if deduplicate and post.idempotency_key in self.posts:
            return self.posts[post.idempotency_key]
        result = PublishResult(external_id=f"ext-{len(self.published) + 1}",
                               url=f"https://fake.example/{len(self.published) + 1}")
        self.published.append(post)
        self.posts[post.idempotency_key] = result
        if self.crash_after_storing:
            self.crash_after_storing = False
            raise Crash()
        return result


class FakeAdapter(NetworkAdapter):
    """A network with idempotency keys and lookup (like the sandbox)."""

    name = "fake"
    display_name = "Fake network"
    limits = Limits(max_length=280, counting="characters", max_media=4,
                    media_types=("image/jpeg",),
                    capabilities=frozenset({PUBLISH_TEXT, PUBLISH_MEDIA, THREADS, REPLIES,
                                            IDEMPOTENCY, LOOKUP}))
    network: ClassVar[FakeNetwork] = FakeNetwork()

    def count(self, text: str) -> int:
        return len(text)

    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        return self.network.publish(post, deduplicate=self.supports(IDEMPOTENCY))

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        self.network.lookups += 1
        return self.network.posts.get(post.idempotency_key)


class IdempotentAdapter(FakeAdapter):
    """Drops a repeat of an idempotency key, but cannot look a post up."""

    name = "idempotent"
    limits = Limits(max_length=280, counting="characters",
                    capabilities=frozenset({PUBLISH_TEXT, IDEMPOTENCY}))

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        raise self._unsupported(LOOKUP)


class PlainAdapter(IdempotentAdapter):
    """Neither idempotency nor lookup (like a webhook)."""

    name = "plain"
    limits = Limits(max_length=280, counting="characters", capabilities=frozenset({PUBLISH_TEXT}))


class _Plugin:
    @staticmethod
    @hookimpl
    def register_networks(register: Callable[[type], None]) -> None:
        for adapter in (FakeAdapter, IdempotentAdapter, PlainAdapter):
            register(adapter)


def fake_registry() -> NetworkRegistry:
    manager = pluggy.PluginManager("tamtam.networks")
    manager.add_hookspecs(hookspecs)
    manager.register(_Plugin(), name="publish-tests")
    manager.check_pending()
    return NetworkRegistry(manager)


@dataclass
class Harness:
    settings: Settings
    factory: sessionmaker[Session]
    clock: FakeClock
    deps: PublishDependencies
    network: FakeNetwork
    agency_id: str
    brand_id: str
    accounts: dict[str, str]  # network name -> account id

    def handle(self, event: Event) -> list[Event]:
        """Run the event's handler as the runner does; every event it produced, in order."""
        handler = build_handlers(self.deps)[event.type]
        with transaction(self.factory) as session:
            returned = handler(event, session)
            self.deps.stage(session, returned)
        return self.drain_outbox()

    def drain_outbox(self) -> list[Event]:
        with transaction(self.factory) as session:
            rows = session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)).all()
            session.execute(delete(OutboxEvent))
            return [decode(row.value) for row in rows]

    def event(self, payload: Payload) -> Event:
        return new_event(payload, tenant=self.agency_id, source="test")

    def session(self) -> Session:
        return self.factory()

    def add_account(self, network: str, handle: str, **settings: Any) -> str:
        with transaction(self.factory) as session:
            account = SocialAccount(agency_id=self.agency_id, brand_id=self.brand_id,
                                    network=network, handle=handle, settings=settings)
            session.add(account)
            session.flush()
            return account.id


def new_agency(factory: sessionmaker[Session], name: str, timezone: str = "Europe/Paris",
               ) -> tuple[str, str, str]:
    with transaction(factory) as session:
        agency, key = create_agency(session, name)
        brand = Brand(agency_id=agency.id, name=f"{name} brand", timezone=timezone)
        session.add(brand)
        session.flush()
        return agency.id, brand.id, key


@pytest.fixture
def harness(settings: Settings) -> Iterator[Harness]:
    prepare_database(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    agency_id, brand_id, _ = new_agency(factory, "Agence")
    clock = FakeClock()
    network = FakeNetwork()
    FakeAdapter.network = network
    deps = PublishDependencies(
        networks=fake_registry(), secrets=SecretBox.from_settings(settings),
        stage=lambda session, events: add_to_outbox(session, events, source="publish", prefix=""),
        policy=PublishPolicy(max_retries=4, backoff_base_s=30, backoff_cap_s=3600),
        clock=clock, jitter=lambda: 0.5,
    )
    harness = Harness(settings, factory, clock, deps, network, agency_id, brand_id, {})
    for name in ("fake", "idempotent", "plain"):
        harness.accounts[name] = harness.add_account(name, f"{name}-cafe", min_spacing_minutes=0)
    try:
        yield harness
    finally:
        engine.dispose()
