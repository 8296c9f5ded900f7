"""Fixtures of the generation tests: an agency with a brand (and its voice), the real network
registry, the provider pool with the built-in providers, and event builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from plugins.ai import get_provider_registry
from plugins.networks import NetworkRegistry, get_network_registry
from services.generation.ai import AIConfig, ProviderPool
from services.generation.handlers import make_handlers
from services.generation.runs import GenerationDeps
from shared.db import transaction
from shared.events import Event, GenerationRequested, MentionReceived, new_event
from shared.models import Brand, SocialAccount
from shared.runner import Handler

VOICE = {
    "tone": ["chaleureux", "complice"],
    "emoji": "sparingly",
    "banned_terms": ["pas cher"],
    "dos": ["tutoyer la communauté"],
    "donts": ["se moquer des concurrents"],
    "sample_posts": ["Le pain du jour est là, tout chaud !"],
}


@dataclass(frozen=True)
class Tenant:
    agency_id: str
    brand_id: str
    account_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def new_tenant(
    factory: sessionmaker[Session],
    ai: dict[str, Any] | None = None,
    voice: dict[str, Any] | None = None,
) -> Tenant:
    from services.api.keys import create_agency

    with transaction(factory) as session:
        agency, key = create_agency(session, "Agence Levain")
        brand = Brand(
            agency_id=agency.id,
            name="Boulangerie Dupont",
            languages=["fr", "en"],
            voice=VOICE if voice is None else voice,
            ai=ai or {},
        )
        session.add(brand)
        session.flush()
        account = SocialAccount(
            agency_id=agency.id, brand_id=brand.id, network="mastodon", handle="dupont"
        )
        session.add(account)
        session.flush()
        return Tenant(agency.id, brand.id, account.id, key)


@pytest.fixture
def tenant(session_factory: sessionmaker[Session]) -> Tenant:
    return new_tenant(session_factory)


@pytest.fixture(scope="session")
def networks() -> NetworkRegistry:
    return get_network_registry(load_entrypoints=False)


def make_deps(
    networks: NetworkRegistry, config: AIConfig | None = None, http=None
) -> GenerationDeps:  # type: ignore[no-untyped-def]
    pool = ProviderPool(get_provider_registry(load_entrypoints=False), config, http=http)
    return GenerationDeps(providers=pool, networks=networks)


@pytest.fixture
def handlers(networks: NetworkRegistry) -> dict[str, Handler]:
    return make_handlers(make_deps(networks))


def brief_event(tenant: Tenant, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "brand_id": tenant.brand_id,
        "brief_id": fields.pop("brief_id", "b" * 32),
        "goal": "launch",
        "topic": "pain au levain",
        "key_message": "Notre pain au levain sort du four chaque matin à 7h",
        "links": ["https://example.com/pain-au-levain"],
        "networks": ["sandbox", "mastodon", "x"],
        "language": "fr",
        "variants": 2,
        "call_to_action": "Passez le goûter tant qu'il est chaud",
    }
    values.update(fields)
    return new_event(GenerationRequested(**values), tenant=tenant.agency_id, source="api")


def mention_event(tenant: Tenant, text: str, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "brand_id": tenant.brand_id,
        "mention_id": fields.pop("mention_id", "m1"),
        "account_id": tenant.account_id,
        "network": "mastodon",
        "external_id": "109876",
        "author": "marie@piaille.fr",
        "text": text,
        "language": "fr",
        "created_at": datetime(2026, 5, 2, 9, 0, tzinfo=UTC),
    }
    values.update(fields)
    return new_event(MentionReceived(**values), tenant=tenant.agency_id, source="ingest")


def handle(
    handlers: dict[str, Handler], factory: sessionmaker[Session], event: Event
) -> list[Event]:
    with transaction(factory) as session:
        return handlers[event.type](event, session)
