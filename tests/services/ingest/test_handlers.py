"""The ingest handlers, called directly: content of approved posts, tracking of published
ones, and mentions feeding the trend and crisis detectors."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from services.ingest.handlers import (
    content_type_of,
    on_mention_received,
    on_post_approved,
    on_post_published,
)
from services.ingest.models import CrisisState, TermStat, TrackedPost
from shared.events import MediaRef, MentionReceived, PostApproved, PostPublished, new_event

NOW = datetime(2025, 6, 2, 12, tzinfo=UTC)


def approved(**fields) -> PostApproved:  # type: ignore[no-untyped-def]
    return PostApproved(brand_id="b", post_id="p1", account_id="a", network="instagram",
                        text=fields.pop("text", "Nouveau menu #rentrée #Brunch"), **fields)


def test_content_type_follows_media_threads_and_links():
    assert content_type_of(approved()) == "text"
    assert content_type_of(approved(text="Lisez https://example.org")) == "link"
    assert content_type_of(approved(media=[MediaRef(url="u")])) == "image"
    assert content_type_of(approved(media=[MediaRef(url="u", mime_type="video/mp4")])) == "video"
    assert content_type_of(approved(thread=["suite"])) == "thread"


def test_approved_then_published_posts_are_tracked_once(session):
    on_post_approved(new_event(approved(media=[MediaRef(url="u")]), tenant="ag", source="review"),
                     session)
    on_post_published(new_event(PostPublished(
        brand_id="b", post_id="p1", account_id="a", network="instagram", external_id="ig-9",
        published_at=NOW), tenant="ag", source="publish"), session)
    session.flush()
    post = session.scalars(select(TrackedPost)).one()
    assert (post.content_type, post.hashtags, post.external_id) == (
        "image", ["rentrée", "brunch"], "ig-9")
    assert post.agency_id == "ag"


def test_a_mention_updates_the_brands_terms_and_crisis_state(session):
    mention = MentionReceived(brand_id="b", mention_id="m", network="x", external_id="1",
                              author="a", text="Scandale : intoxication au restaurant",
                              sentiment=-0.8, sentiment_label="negative", created_at=NOW)
    assert on_mention_received(new_event(mention, tenant="ag", source="ingest"), session) == []
    session.flush()
    assert {"scandale", "intoxication", "restaurant"} <= set(session.scalars(select(TermStat.term)))
    state = session.get(CrisisState, "b").state
    assert sum(state["negative"]) == 1 and sum(state["triggers"]) == 1
