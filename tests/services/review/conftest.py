"""Fixtures of the review tests: one agency with a brand, a sandbox account and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from services.api.keys import create_agency, create_key
from services.review import desk
from shared.events import DraftCreated, Event, RiskReason, new_event
from shared.models import Brand, SocialAccount


@dataclass
class Tenant:
    agency_id: str
    brand_id: str
    account_id: str
    keys: dict[str, str]  # role -> API key

    def actor(self, role: str, name: str | None = None) -> desk.Actor:
        return desk.Actor(self.agency_id, role, name or f"user:{role}")

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def make_tenant(session: Session, name: str = "Agence A") -> Tenant:
    agency, admin_key = create_agency(session, name)
    brand = Brand(agency_id=agency.id, name=f"Marque {name}", timezone="Europe/Paris")
    session.add(brand)
    session.flush()
    account = SocialAccount(
        agency_id=agency.id, brand_id=brand.id, network="sandbox", handle="marque"
    )
    session.add(account)
    session.flush()
    keys = {"admin": admin_key}
    for role in ("editor", "approver", "viewer"):
        keys[role] = create_key(session, agency.id, role, role)[1]
    session.commit()
    return Tenant(agency.id, brand.id, account.id, keys)


@pytest.fixture
def tenant(session: Session) -> Tenant:
    return make_tenant(session)


def draft(tenant: Tenant, **fields: Any) -> DraftCreated:
    values: dict[str, Any] = {
        "brand_id": tenant.brand_id,
        "draft_id": fields.pop("draft_id", None) or _new_id(),
        "network": "sandbox",
        "language": "fr",
        "text": "Nouveau menu d'automne au Café : venez goûter la tarte aux pommes !",
        "risk_score": 0.1,
        "risk_reasons": [
            RiskReason(
                code="banned_term", message="« pas cher » est proscrit", start=0, end=6, weight=0.1
            )
        ],
    }
    values.update(fields)
    return DraftCreated(**values)


def draft_event(tenant: Tenant, **fields: Any) -> Event:
    return new_event(draft(tenant, **fields), tenant=tenant.agency_id, source="generation")


def _new_id() -> str:
    import uuid

    return uuid.uuid4().hex
