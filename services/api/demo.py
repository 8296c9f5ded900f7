"""The demo tenant `make run` creates on an empty database (TAMTAM_DEMO=0 turns it off)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.keys import create_agency
from services.review.users import create_user
from shared.models import Agency, Brand, SocialAccount

DEMO_EMAIL = "demo@tamtam.local"


def seed_demo(session: Session, api_key: str | None, password: str) -> str | None:
    """Create the demo agency, brand and sandbox account if no agency exists yet.
    Returns the demo API key when it created one, else None."""
    if session.scalar(select(func.count()).select_from(Agency)):
        return None
    agency, key = create_agency(session, "Agence Démo", key=api_key)
    brand = Brand(agency_id=agency.id, name="Café Tamtam", timezone="Europe/Paris",
                  languages=["fr", "en"],
                  voice={"tone": ["chaleureux", "complice"], "emoji": "sparingly",
                         "banned_terms": ["pas cher"], "dos": ["tutoyer la communauté"],
                         "donts": ["se moquer des concurrents"]})
    session.add(brand)
    session.flush()
    session.add(SocialAccount(agency_id=agency.id, brand_id=brand.id, network="sandbox",
                              handle="cafe-tamtam", display_name="Café Tamtam (sandbox)"))
    session.flush()
    create_user(session, agency.id, DEMO_EMAIL, password, role="admin", language="fr")
    return key
