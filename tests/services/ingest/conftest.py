"""Fixtures of the ingest tests: a database with every table (the migrations do not have the
ingest tables yet), an agency with a brand, and a network registry with in-test adapters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.db import Base, import_all_models, make_engine, make_session_factory, transaction
from shared.migrate import upgrade
from shared.models import Brand, SocialAccount


def prepare_database(url: str) -> None:
    """The migrated schema plus the tables no migration has yet (ingest's, sandbox's)."""
    upgrade(url)
    import_all_models()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()


@dataclass(frozen=True)
class Tenant:
    agency_id: str
    brand_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def new_tenant(factory: sessionmaker[Session], name: str = "Agence") -> Tenant:
    from services.api.keys import create_agency

    with transaction(factory) as session:
        agency, key = create_agency(session, name)
        brand = Brand(agency_id=agency.id, name=f"{name} brand", timezone="Europe/Paris")
        session.add(brand)
        session.flush()
        return Tenant(agency.id, brand.id, key)


def add_account(factory: sessionmaker[Session], tenant: Tenant, network: str, handle: str,
                credentials: dict | None = None, settings: dict | None = None,
                box=None) -> str:  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        account = SocialAccount(
            agency_id=tenant.agency_id, brand_id=tenant.brand_id, network=network, handle=handle,
            settings=settings or {},
            credentials_encrypted=box.seal(credentials) if credentials and box else None)
        session.add(account)
        session.flush()
        return account.id


@pytest.fixture
def ingest_settings(kafka_settings: Settings) -> Settings:
    prepare_database(kafka_settings.database_url)
    return kafka_settings


@pytest.fixture
def ingest_factory(ingest_settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(ingest_settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()
