"""Fixtures of the web page tests: an agency with a brand, a sandbox account, a signed-in-able
user, a draft waiting for review (with a risk span) and a reply to a mention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.api.keys import create_agency
from services.review import crisis, desk, users
from shared.events import CrisisAlerted, DraftCreated, RiskReason
from shared.models import Brand, SocialAccount

PASSWORD = "correct horse battery"
TEXT = "Notre nouveau café pas cher arrive lundi : venez le goûter !"


@dataclass
class Desk:
    agency_id: str
    brand_id: str
    email: str
    post_id: str
    reply_id: str


@pytest.fixture
def web_desk(session_factory: sessionmaker[Session]) -> Desk:
    with session_factory() as session:
        agency, _ = create_agency(session, "Agence Web")
        brand = Brand(agency_id=agency.id, name="Café Tamtam", timezone="Europe/Paris")
        session.add(brand)
        session.flush()
        session.add(
            SocialAccount(agency_id=agency.id, brand_id=brand.id, network="sandbox", handle="cafe")
        )
        session.add(
            SocialAccount(agency_id=agency.id, brand_id=brand.id, network="x", handle="cafe_x")
        )
        user = users.create_user(session, agency.id, "camille@agence.test", PASSWORD, "admin", "fr")
        start = TEXT.index("pas cher")
        post = DraftCreated(
            brand_id=brand.id,
            draft_id="post-1",
            network="sandbox",
            language="fr",
            text=TEXT,
            risk_score=0.35,
            risk_reasons=[
                RiskReason(
                    code="banned_term",
                    message="« pas cher » est proscrit",
                    start=start,
                    end=start + len("pas cher"),
                    weight=0.3,
                )
            ],
        )
        reply = DraftCreated(
            brand_id=brand.id,
            draft_id="reply-1",
            kind="reply",
            network="sandbox",
            language="fr",
            text="Oui, ouvert dimanche de 9 h à 13 h !",
            mention_text="Vous êtes ouverts dimanche ?",
            mention_author="@lea",
            mention_sentiment="neutral",
        )
        desk.receive_draft(session, agency.id, post)
        desk.receive_draft(session, agency.id, reply)
        now = datetime.now(UTC)
        curve = [
            {
                "t": (now - timedelta(minutes=10 * (12 - i))).isoformat(),
                "volume": v,
                "negative": int(v * s),
                "negative_share": s,
            }
            for i, (v, s) in enumerate(
                [
                    (4, 0.1),
                    (5, 0.2),
                    (3, 0.1),
                    (6, 0.2),
                    (5, 0.1),
                    (7, 0.3),
                    (9, 0.4),
                    (14, 0.6),
                    (22, 0.7),
                    (31, 0.8),
                    (28, 0.75),
                    (35, 0.8),
                ]
            )
        ]
        crisis.receive_alert(
            session,
            agency.id,
            CrisisAlerted(
                brand_id=brand.id,
                alert_id="alert-1",
                severity=0.55,
                reason="mentions négatives ×4 en une heure",
                volume=35,
                negative_share=0.8,
                samples=[
                    "Le café était froid et le service désagréable.",
                    "Plus jamais chez Café Tamtam, scandaleux !",
                ],
                curve=curve,
            ),
        )
        session.commit()
        return Desk(agency.id, brand.id, user.email, "post-1", "reply-1")
