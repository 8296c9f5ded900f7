"""The review desk and the handlers, called directly: drafts become posts in review, policies
decide who approves at which step, automatic approval has its limits, edits keep their diffs,
publish's events move the post whatever their order, concurrent approvals: one wins."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.review import crisis, desk, handlers, policies, queries
from services.review.lifecycle import PostChanged
from services.review.models import ReviewAuditEntry, ReviewPost
from shared.events import (
    PostApproved,
    PostFailed,
    PostPublished,
    PostScheduled,
    PostTransitioned,
    ReviewRequested,
    new_event,
)
from shared.models import SocialAccount
from shared.problems import Problem
from tests.services.review.conftest import Tenant, draft, draft_event

TWO_STEPS = [
    {"name": "Agence", "roles": ["editor", "admin"]},
    {"name": "Client", "roles": ["approver"]},
]


def receive(session: Session, tenant: Tenant, **fields) -> tuple[ReviewPost, list]:
    event = draft_event(tenant, **fields)
    events = handlers.on_draft_created(event, session)
    session.commit()
    post = session.get(ReviewPost, event.data.draft_id)
    assert post is not None
    return post, events


def test_a_draft_becomes_a_post_in_review_with_its_text_risk_and_hashtags(session, tenant):
    post, events = receive(
        session,
        tenant,
        hashtags=[{"tag": "automne", "score": 0.8, "why": "saison"}],
        needs_person=True,
    )
    assert post.state == "in_review" and post.step == 0
    assert post.network == "sandbox" and post.risk_score == 0.1 and post.needs_person
    assert post.risk_reasons[0]["code"] == "banned_term" and post.hashtags[0]["tag"] == "automne"
    assert [type(e.data) for e in events] == [PostTransitioned, ReviewRequested]
    assert (events[0].data.from_state, events[0].data.to_state) == ("draft", "in_review")


def test_the_same_draft_twice_makes_one_post(session, tenant):
    event = draft_event(tenant)
    handlers.on_draft_created(event, session)
    assert handlers.on_draft_created(event, session) == []


def test_two_steps_each_decided_by_its_roles_then_posts_approved_with_the_account(session, tenant):
    policies.put_policy(session, tenant.agency_id, tenant.brand_id, TWO_STEPS, False, 0.2)
    post, _ = receive(session, tenant)

    with pytest.raises(Problem) as refused:
        desk.decide(session, post, tenant.actor("approver"), "approve")
    assert refused.value.status == 403  # the client's approver acts at step 2, not step 1

    events = desk.decide(session, post, tenant.actor("editor", "user:ed"), "approve")
    assert post.state == "in_review" and post.step == 1
    assert isinstance(events[0].data, ReviewRequested) and events[0].data.step_name == "Client"

    with pytest.raises(Problem) as refused:
        desk.decide(session, post, tenant.actor("editor", "user:ed"), "approve")
    assert refused.value.status == 403

    at = datetime(2031, 5, 4, 10, 0, tzinfo=UTC)
    events = desk.decide(
        session,
        post,
        tenant.actor("approver", "user:cli"),
        "approve",
        text="Menu d'automne : tarte aux pommes !",
        publish_at=at,
    )
    session.commit()
    approved = [e.data for e in events if isinstance(e.data, PostApproved)]
    assert len(approved) == 1
    assert approved[0].account_id == tenant.account_id and approved[0].publish_at == at
    assert approved[0].text == "Menu d'automne : tarte aux pommes !" and not approved[0].best_time
    assert post.state == "approved"
    steps = [(a.step, a.actor) for a in queries.approvals_of(session, post)]
    assert steps == [(0, "user:ed"), (1, "user:cli")]


def test_a_viewer_cannot_decide_nor_edit(session, tenant):
    post, _ = receive(session, tenant)
    for action in (
        lambda: desk.decide(session, post, tenant.actor("viewer"), "approve"),
        lambda: desk.edit(session, post, tenant.actor("viewer"), "autre texte"),
    ):
        with pytest.raises(Problem) as refused:
            action()
        assert refused.value.status == 403


def test_best_time_when_no_time_is_chosen_and_the_decisions_account_wins(session, tenant):
    second = SocialAccount(
        agency_id=tenant.agency_id, brand_id=tenant.brand_id, network="sandbox", handle="second"
    )
    session.add(second)
    session.flush()
    post, _ = receive(session, tenant)
    events = desk.decide(session, post, tenant.actor("editor"), "approve", account_id=second.id)
    approved = [e.data for e in events if isinstance(e.data, PostApproved)][0]
    assert approved.account_id == second.id and approved.best_time and approved.publish_at is None


def test_approval_without_a_connected_account_is_refused(session, tenant):
    post, _ = receive(session, tenant, network="mastodon")
    with pytest.raises(Problem) as refused:
        desk.decide(session, post, tenant.actor("editor"), "approve")
    assert refused.value.status == 409 and refused.value.kind == "no-account"
    assert post.state == "in_review"


def test_edits_keep_a_history_with_diffs_and_comments_are_kept(session, tenant):
    post, _ = receive(session, tenant, text="Ligne un\nLigne deux")
    desk.edit(session, post, tenant.actor("editor", "user:ed"), "Ligne un\nLigne 2")
    desk.comment(session, post, tenant.actor("approver", "user:cli"), "Plus court ?")
    session.commit()
    [change] = queries.edits_of(session, post)
    assert change.before == "Ligne un\nLigne deux" and change.after == "Ligne un\nLigne 2"
    assert "-Ligne deux" in change.diff and "+Ligne 2" in change.diff
    assert post.original_text == "Ligne un\nLigne deux" and post.version == 3
    assert [c.body for c in queries.comments_of(session, post)] == ["Plus court ?"]


def test_request_changes_then_resubmit_starts_again_at_the_first_step(session, tenant):
    policies.put_policy(session, tenant.agency_id, tenant.brand_id, TWO_STEPS, False, 0.2)
    post, _ = receive(session, tenant)
    desk.decide(session, post, tenant.actor("editor"), "approve")
    desk.decide(
        session, post, tenant.actor("approver"), "request_changes", comment_text="Trop long"
    )
    assert (post.state, post.step) == ("changes_requested", 0)
    with pytest.raises(Problem):
        desk.decide(session, post, tenant.actor("editor"), "approve")
    desk.edit(session, post, tenant.actor("editor"), "Plus court.")
    desk.submit(session, post, tenant.actor("editor"))
    assert (post.state, post.step) == ("in_review", 0)
    desk.decide(session, post, tenant.actor("editor"), "reject", comment_text="finalement non")
    assert post.state == "rejected"


@pytest.mark.parametrize(
    ("fields", "paused", "automatic"),
    [
        ({}, False, True),
        ({"needs_person": True}, False, False),
        ({"risk_score": 0.5}, False, False),
        ({"risk_reasons": [{"code": "sensitive_topic", "message": "santé"}]}, False, False),
        ({"kind": "reply", "mention_sentiment": "negative"}, False, False),
        ({"kind": "reply"}, False, False),  # a mention whose sentiment is unknown
        ({"kind": "reply", "mention_sentiment": "positive"}, False, True),
        ({}, True, False),
    ],
)
def test_automatic_approval_only_for_low_risk_posts_a_person_need_not_see(
    session, tenant, fields, paused, automatic
):
    policies.put_policy(
        session, tenant.agency_id, tenant.brand_id, policies.DEFAULT_STEPS, True, 0.2
    )
    if paused:
        crisis.pause(session, tenant.agency_id, tenant.brand_id, actor="user:x")
    post, events = receive(session, tenant, **{"risk_reasons": [], **fields})
    assert (post.state == "approved") is automatic
    assert any(isinstance(e.data, PostApproved) for e in events) is automatic


def test_without_the_brand_turning_it_on_nothing_is_approved_automatically(session, tenant):
    post, _ = receive(session, tenant, risk_score=0.0, risk_reasons=[])
    assert post.state == "in_review"


def publish_event(tenant: Tenant, payload):
    return new_event(payload, tenant=tenant.agency_id, source="publish")


def approved_post(session, tenant) -> ReviewPost:
    post, _ = receive(session, tenant)
    desk.decide(session, post, tenant.actor("editor"), "approve")
    session.commit()
    return post


def test_publish_events_move_the_post_scheduled_then_published(session, tenant):
    post = approved_post(session, tenant)
    at = datetime.now(UTC) + timedelta(hours=2)
    handlers.on_post_scheduled(
        publish_event(
            tenant,
            PostScheduled(
                brand_id=tenant.brand_id,
                post_id=post.id,
                account_id=tenant.account_id,
                publish_at=at,
            ),
        ),
        session,
    )
    assert post.state == "scheduled" and post.scheduled_at == at
    handlers.on_post_published(
        publish_event(
            tenant,
            PostPublished(
                brand_id=tenant.brand_id,
                post_id=post.id,
                account_id=tenant.account_id,
                network="sandbox",
                external_id="x1",
                url="http://s/x1",
                published_at=at,
            ),
        ),
        session,
    )
    assert post.state == "published" and post.external_url == "http://s/x1"


def test_published_may_arrive_before_scheduled_which_is_then_ignored(session, tenant):
    post = approved_post(session, tenant)
    at = datetime.now(UTC)
    handlers.on_post_published(
        publish_event(
            tenant,
            PostPublished(
                brand_id=tenant.brand_id,
                post_id=post.id,
                account_id=tenant.account_id,
                network="sandbox",
                external_id="x1",
                published_at=at,
            ),
        ),
        session,
    )
    assert post.state == "published"
    late = handlers.on_post_scheduled(
        publish_event(
            tenant,
            PostScheduled(
                brand_id=tenant.brand_id,
                post_id=post.id,
                account_id=tenant.account_id,
                publish_at=at,
            ),
        ),
        session,
    )
    assert late == [] and post.state == "published"
    ignored = session.scalars(
        select(ReviewAuditEntry).where(
            ReviewAuditEntry.post_id == post.id, ReviewAuditEntry.action == "event_ignored"
        )
    ).all()
    assert len(ignored) == 1


def test_a_failure_is_recorded(session, tenant):
    post = approved_post(session, tenant)
    handlers.on_post_failed(
        publish_event(
            tenant,
            PostFailed(
                brand_id=tenant.brand_id,
                post_id=post.id,
                account_id=tenant.account_id,
                network="sandbox",
                reason="401 token revoked",
            ),
        ),
        session,
    )
    assert post.state == "failed" and post.failure_reason == "401 token revoked"


def test_two_people_approving_the_same_post_at_once_one_wins_the_other_gets_409(
    session_factory: sessionmaker[Session], tenant
):
    with session_factory() as session:
        post, _ = receive(session, tenant)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def approve(name: str) -> None:
        with session_factory() as own:
            mine = own.get(ReviewPost, post.id)
            assert mine is not None and mine.version == 2
            barrier.wait()  # both read version 2 before either writes
            try:
                desk.decide(own, mine, tenant.actor("editor", name), "approve")
                own.commit()
                outcomes.append("approved")
            except PostChanged as conflict:
                own.rollback()
                outcomes.append(conflict.status)

    threads = [threading.Thread(target=approve, args=(f"user:{n}",)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [409, "approved"]
    with session_factory() as session:
        stored = session.get(ReviewPost, post.id)
        assert stored is not None and stored.state == "approved" and stored.version == 3
        transitions = session.scalars(
            select(ReviewAuditEntry).where(
                ReviewAuditEntry.post_id == post.id, ReviewAuditEntry.to_state == "approved"
            )
        ).all()
        assert len(transitions) == 1


def test_a_decision_on_a_stale_version_is_refused(session, tenant):
    post, _ = receive(session, tenant)
    with pytest.raises(PostChanged):
        desk.decide(
            session, post, tenant.actor("editor"), "approve", expected_version=post.version - 1
        )


def test_draft_fields_reach_the_post(session, tenant):
    data = draft(
        tenant,
        kind="reply",
        mention_text="Vous êtes ouverts dimanche ?",
        mention_author="@lea",
        mention_external_id="m-1",
        mention_sentiment="neutral",
    )
    desk.receive_draft(session, tenant.agency_id, data)
    post = session.get(ReviewPost, data.draft_id)
    assert post is not None
    assert (post.mention_text, post.mention_author, post.mention_external_id) == (
        "Vous êtes ouverts dimanche ?",
        "@lea",
        "m-1",
    )
    events = desk.decide(session, post, tenant.actor("editor"), "approve")
    approved = [e.data for e in events if isinstance(e.data, PostApproved)][0]
    assert approved.reply_to_external_id == "m-1"
