"""Handlers of the ingest service: plain functions (event, session) -> list[new events].

- posts.approved: remember the post's content type and hashtags (for insights);
- posts.published: start tracking the post's metrics (its external id);
- mentions.received (our own): feed the brand's trend watch and crisis detector. Going
  through Kafka, keyed by brand, means one consumer owns a brand's detector state at a time,
  however many ingest replicas run.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest import crisis, trends
from services.ingest.models import TrackedPost
from services.ingest.text import hashtags
from shared.events import Event, MentionReceived, PostApproved, PostPublished
from shared.runner import Handler

LINK = re.compile(r"https?://\S+")


def content_type_of(post: PostApproved) -> str:
    if post.thread:
        return "thread"
    kinds = {media.mime_type.split("/", 1)[0] for media in post.media}
    if "video" in kinds:
        return "video"
    if kinds:
        return "image"
    return "link" if LINK.search(post.text) else "text"


def _tracked(session: Session, post_id: str) -> TrackedPost | None:
    return session.scalars(select(TrackedPost).where(TrackedPost.post_id == post_id)).first()


def on_post_approved(event: Event, session: Session) -> list[Event]:
    post: PostApproved = event.data  # type: ignore[assignment]
    row = _tracked(session, post.post_id)
    if row is None:
        row = TrackedPost(agency_id=event.tenant, brand_id=post.brand_id,
                          account_id=post.account_id, network=post.network, post_id=post.post_id)
        session.add(row)
    row.content_type = content_type_of(post)
    row.hashtags = hashtags(" ".join([post.text, *post.thread]))
    return []


def on_post_published(event: Event, session: Session) -> list[Event]:
    post: PostPublished = event.data  # type: ignore[assignment]
    row = _tracked(session, post.post_id)
    if row is None:
        row = TrackedPost(agency_id=event.tenant, brand_id=post.brand_id, post_id=post.post_id,
                          account_id=post.account_id, network=post.network)
        session.add(row)
    row.external_id, row.url, row.published_at = post.external_id, post.url, post.published_at
    row.account_id, row.network = post.account_id, post.network
    return []


def on_mention_received(event: Event, session: Session) -> list[Event]:
    mention: MentionReceived = event.data  # type: ignore[assignment]
    found = trends.observe_item(
        session, agency_id=event.tenant, brand_id=mention.brand_id, text=mention.text,
        moment=mention.created_at, source=f"mention:{mention.network}")
    found += crisis.observe_mention(
        session, agency_id=event.tenant, brand_id=mention.brand_id, moment=mention.created_at,
        negative=mention.sentiment_label == "negative", text=mention.text)
    return found


HANDLERS: dict[str, Handler] = {
    PostApproved.type: on_post_approved,
    PostPublished.type: on_post_published,
    MentionReceived.type: on_mention_received,
}
