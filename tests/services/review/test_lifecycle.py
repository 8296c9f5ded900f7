"""The post state machine, table-driven: every allowed move is made (with its audit entry and
its PostTransitioned event), every other move is refused with 409 and the current state."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.review import lifecycle
from services.review.models import ReviewAuditEntry, ReviewPost
from shared.events import PostTransitioned

ALLOWED = {
    ("draft", "in_review"),
    ("draft", "cancelled"),
    ("in_review", "changes_requested"),
    ("in_review", "approved"),
    ("in_review", "rejected"),
    ("in_review", "cancelled"),
    ("changes_requested", "in_review"),
    ("changes_requested", "rejected"),
    ("changes_requested", "cancelled"),
    ("approved", "scheduled"),
    ("approved", "publishing"),
    ("approved", "published"),
    ("approved", "failed"),
    ("approved", "cancelled"),
    ("scheduled", "publishing"),
    ("scheduled", "published"),
    ("scheduled", "failed"),
    ("scheduled", "cancelled"),
    ("publishing", "published"),
    ("publishing", "failed"),
    ("failed", "scheduled"),
    ("failed", "publishing"),
    ("failed", "published"),
    ("failed", "cancelled"),
}
STATES = [
    "draft",
    "in_review",
    "changes_requested",
    "approved",
    "scheduled",
    "publishing",
    "published",
    "failed",
    "rejected",
    "cancelled",
]
REFUSED = sorted(set(itertools.product(STATES, STATES)) - ALLOWED)


def post_in(session: Session, state: str) -> ReviewPost:
    post = ReviewPost(
        id=f"p-{state}",
        agency_id="agency-1",
        brand_id="brand-1",
        network="sandbox",
        text="Bonjour",
        original_text="Bonjour",
        state=state,
        version=1,
    )
    session.add(post)
    session.flush()
    return post


def test_the_machine_knows_exactly_the_states_of_the_issue():
    assert set(lifecycle.STATES) == set(STATES)
    assert {(a, b) for a, targets in lifecycle.TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("current", "wanted"), sorted(ALLOWED))
def test_an_allowed_transition_moves_the_post_audits_it_and_emits_an_event(
    session: Session, current: str, wanted: str
):
    post = post_in(session, current)
    event = lifecycle.transition(session, post, wanted, actor="user:alice", reason="because")
    session.commit()

    stored = session.get(ReviewPost, post.id)
    assert stored is not None and stored.state == wanted and stored.version == 2
    entry = session.scalars(
        select(ReviewAuditEntry).where(ReviewAuditEntry.post_id == post.id)
    ).one()
    assert (entry.actor, entry.from_state, entry.to_state, entry.reason) == (
        "user:alice",
        current,
        wanted,
        "because",
    )
    assert entry.created_at is not None
    assert isinstance(event.data, PostTransitioned)
    assert (event.data.from_state, event.data.to_state, event.data.post_id) == (
        current,
        wanted,
        post.id,
    )
    assert event.tenant == "agency-1" and event.key == "brand-1"


@pytest.mark.parametrize(("current", "wanted"), REFUSED)
def test_an_illegal_transition_is_refused_with_409_and_the_current_state(
    session: Session, current: str, wanted: str
):
    post = post_in(session, current)
    with pytest.raises(lifecycle.IllegalTransition) as refused:
        lifecycle.transition(session, post, wanted, actor="user:alice")
    assert refused.value.status == 409
    assert refused.value.extensions["state"] == current
    session.rollback()
    stored = session.get(ReviewPost, post.id)
    assert stored is None or (stored.state == current and stored.version == 1)
    assert session.scalars(select(ReviewAuditEntry)).all() == []


def test_a_stale_version_is_refused_with_409(session: Session):
    post = post_in(session, "in_review")
    session.commit()
    with session.bind.connect() as other:  # type: ignore[union-attr]
        other.exec_driver_sql(
            "UPDATE review_posts SET version = version + 1 WHERE id = 'p-in_review'"
        )
        other.commit()
    with pytest.raises(lifecycle.PostChanged) as refused:
        lifecycle.transition(session, post, "approved", actor="user:alice")
    assert refused.value.status == 409
