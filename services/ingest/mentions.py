"""Normalisation of mentions into `mentions.received`, once per (network, external id).

Polling and webhooks both end here: a mention already stored (same network and external id)
is skipped, so a network that sends a mention by webhook and then returns it in a poll, or a
poll repeated after a crash, produces one row and one event. The unique constraint on the
table is the last guard when two writers race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.networks.base import IncomingMention
from services.ingest import sentiment
from services.ingest.models import Mention, TrackedPost
from services.ingest.text import detect_language
from shared.db import utcnow
from shared.events import Event, MentionReceived, new_event
from shared.models import Brand


@dataclass(frozen=True)
class Origin:
    """Whose mentions these are."""

    agency_id: str
    brand_id: str
    account_id: str | None
    network: str


def brand_languages(session: Session, brand_id: str) -> list[str]:
    brand = session.get(Brand, brand_id)
    return list(brand.languages) if brand is not None else []


def store_mentions(
    session: Session, origin: Origin, incoming: Sequence[IncomingMention], source: str = "poll",
) -> list[Event]:
    """Add the mentions not seen yet; return their `mentions.received` events."""
    if not incoming:
        return []
    ids = list(dict.fromkeys(m.external_id for m in incoming))
    known = set(session.scalars(select(Mention.external_id).where(
        Mention.network == origin.network, Mention.external_id.in_(ids))))
    replied = {m.in_reply_to for m in incoming if m.in_reply_to}
    posts = {row.external_id: row.post_id for row in session.scalars(select(TrackedPost).where(
        TrackedPost.network == origin.network, TrackedPost.external_id.in_(replied)))}
    languages = brand_languages(session, origin.brand_id)
    events: list[Event] = []
    for item in incoming:
        if item.external_id in known:
            continue
        known.add(item.external_id)
        language = detect_language(item.text, languages)
        feeling = sentiment.score(item.text, language)
        created_at = item.created_at
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        mention = Mention(
            agency_id=origin.agency_id, brand_id=origin.brand_id, account_id=origin.account_id,
            network=origin.network, external_id=item.external_id, author=item.author,
            text=item.text, url=item.url, language=language, sentiment=feeling.score,
            sentiment_label=feeling.label, in_reply_to=item.in_reply_to,
            post_id=posts.get(item.in_reply_to or ""), source=source, created_at=created_at,
            received_at=utcnow(),
        )
        session.add(mention)
        session.flush()
        events.append(new_event(MentionReceived(
            brand_id=origin.brand_id, mention_id=mention.id, account_id=origin.account_id,
            network=origin.network, external_id=item.external_id, author=item.author,
            text=item.text, language=language, sentiment=feeling.score,
            sentiment_label=feeling.label,  # type: ignore[arg-type]
            url=item.url, created_at=created_at, in_reply_to_external_id=item.in_reply_to,
            post_id=mention.post_id,
        ), tenant=origin.agency_id, source="ingest", subject=mention.id))
    return events
