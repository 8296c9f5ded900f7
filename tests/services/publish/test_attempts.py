"""posts.due -> one network call, recorded first; retries, rejections, expired authorizations,
crashes mid-call, the crisis pause and first comments. Handlers called directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from plugins.networks.base import AuthExpired, Rejected, RetryLater
from services.publish import attempts
from services.publish.models import PausedBrand, PublishAttempt, ScheduledPost
from shared.db import transaction
from shared.events import (
    AccountDisconnected,
    BrandPaused,
    BrandResumed,
    PostApproved,
    PostDue,
    PostFailed,
    PostPublished,
    PostScheduled,
)
from shared.models import SocialAccount
from tests.services.publish.conftest import Crash, Harness


def schedule(harness: Harness, post_id: str = "p1", network: str = "fake", **fields) -> None:
    harness.handle(harness.event(PostApproved(
        brand_id=harness.brand_id, post_id=post_id, account_id=harness.accounts[network],
        network=network, text=f"Bonjour {post_id}", **fields)))


def claim(harness: Harness, post_id: str = "p1") -> PostDue:
    """What the scheduler does: the row is claimed and a PostDue goes out."""
    with transaction(harness.factory) as session:
        post = session.get(ScheduledPost, post_id)
        post.status = "due"
        return PostDue(brand_id=post.brand_id, post_id=post.id, account_id=post.account_id,
                       due_at=post.publish_at)


def publish_due(harness: Harness, post_id: str = "p1") -> list:
    return [event.data for event in harness.handle(harness.event(claim(harness, post_id)))]


def post_row(harness: Harness, post_id: str = "p1") -> ScheduledPost:
    with harness.session() as session:
        return session.get(ScheduledPost, post_id)


def attempt_rows(harness: Harness, post_id: str = "p1") -> list[PublishAttempt]:
    with harness.session() as session:
        return list(session.scalars(select(PublishAttempt).where(PublishAttempt.post_id == post_id)
                                    .order_by(PublishAttempt.number)))


def test_a_due_post_is_published_once_with_its_idempotency_key(harness):
    schedule(harness, thread=["deuxième partie"])
    events = publish_due(harness)
    [published] = [e for e in events if isinstance(e, PostPublished)]
    assert (published.external_id, published.url) == ("ext-1", "https://fake.example/1")
    [sent] = harness.network.calls
    assert sent.idempotency_key == post_row(harness).idempotency_key() == "tamtam-p1-g1"
    assert sent.thread == ("deuxième partie",)
    assert post_row(harness).status == "published"
    assert [a.state for a in attempt_rows(harness)] == ["succeeded"]
    assert redeliver(harness) == []  # a repeat of PostDue finds the post published
    assert len(harness.network.calls) == 1


def test_the_attempt_is_committed_before_the_network_is_called(harness):
    schedule(harness)
    seen: list[tuple[str, str]] = []

    def look_from_another_connection(post) -> None:
        with harness.session() as session:
            seen.extend(session.execute(select(PublishAttempt.idempotency_key,
                                               PublishAttempt.state)).all())

    harness.network.on_call = look_from_another_connection
    publish_due(harness)
    assert seen == [("tamtam-p1-g1", "in_flight")]


def test_retry_later_reschedules_after_the_networks_wait_instead_of_sleeping(harness):
    schedule(harness)
    harness.network.script = [RetryLater("rate limited", after=600)]
    events = publish_due(harness)
    [rescheduled] = [e for e in events if isinstance(e, PostScheduled)]
    assert rescheduled.publish_at == harness.clock.now + timedelta(seconds=600)
    assert post_row(harness).status == "scheduled"
    assert [a.state for a in attempt_rows(harness)] == ["retry_later"]
    harness.clock.now = rescheduled.publish_at
    events = publish_due(harness)
    assert any(isinstance(e, PostPublished) for e in events)
    assert [c.idempotency_key for c in harness.network.calls] == ["tamtam-p1-g1"] * 2
    assert len(harness.network.published) == 1


def test_retries_back_off_exponentially_with_jitter_then_fail_as_retryable(harness):
    schedule(harness)
    harness.network.script = [RetryLater("500: boom")] * 5
    delays = []
    for _ in range(4):
        [rescheduled] = [e for e in publish_due(harness) if isinstance(e, PostScheduled)]
        delays.append((rescheduled.publish_at - harness.clock.now).total_seconds())
        harness.clock.now = rescheduled.publish_at
    assert delays == [22.5, 45.0, 90.0, 180.0]  # 30 s doubling, times 0.75 (jitter 0.5)
    [failure] = [e for e in publish_due(harness) if isinstance(e, PostFailed)]
    assert failure.retryable is True and "500: boom" in failure.reason
    assert post_row(harness).status == "failed"


def test_a_rejection_fails_at_once_with_the_reason(harness):
    schedule(harness)
    harness.network.script = [Rejected("duplicate content")]
    [failure] = [e for e in publish_due(harness) if isinstance(e, PostFailed)]
    assert failure.retryable is False and "duplicate content" in failure.reason
    assert len(harness.network.calls) == 1
    assert [a.state for a in attempt_rows(harness)] == ["rejected"]


def test_a_post_the_network_would_refuse_fails_without_a_call(harness):
    harness.handle(harness.event(PostApproved(
        brand_id=harness.brand_id, post_id="p1", account_id=harness.accounts["fake"],
        network="fake", text="x" * 300)))
    [failure] = [e for e in publish_due(harness) if isinstance(e, PostFailed)]
    assert failure.retryable is False and harness.network.calls == []


def test_an_expired_authorization_disconnects_the_account_and_fails_the_post(harness):
    schedule(harness)
    harness.network.script = [AuthExpired("token revoked")]
    events = publish_due(harness)
    [disconnected] = [e for e in events if isinstance(e, AccountDisconnected)]
    [failure] = [e for e in events if isinstance(e, PostFailed)]
    assert disconnected.account_id == harness.accounts["fake"]
    assert "token revoked" in disconnected.reason and failure.reason == disconnected.reason
    assert failure.retryable is True
    with harness.session() as session:  # the api owns the account row: publish only tells it
        assert session.get(SocialAccount, harness.accounts["fake"]).status == "connected"


def test_a_disconnected_account_fails_its_posts_without_calling_the_network(harness):
    schedule(harness)
    with transaction(harness.factory) as session:
        account = session.get(SocialAccount, harness.accounts["fake"])
        account.status, account.status_reason = "disconnected", "token revoked"
    [failure] = [e for e in publish_due(harness) if isinstance(e, PostFailed)]
    assert "token revoked" in failure.reason and harness.network.calls == []


# --- a crash in the middle of the call ------------------------------------------------------


def crash_mid_call(harness: Harness, network: str, stored: bool) -> None:
    schedule(harness, network=network)
    if stored:
        harness.network.crash_after_storing = True
    else:
        harness.network.script = [Crash()]
    with pytest.raises(Crash):
        publish_due(harness)
    assert post_row(harness).status == "publishing"
    assert [a.state for a in attempt_rows(harness)] == ["in_flight"]


def redeliver(harness: Harness) -> list:
    """Kafka delivers the PostDue again (its offset was never committed)."""
    post = post_row(harness)
    due = PostDue(brand_id=post.brand_id, post_id=post.id, account_id=post.account_id,
                  due_at=post.publish_at)
    return [event.data for event in harness.handle(harness.event(due))]


def test_after_a_crash_a_post_the_network_has_is_found_by_lookup_and_not_sent_again(harness):
    crash_mid_call(harness, "fake", stored=True)
    events = redeliver(harness)
    [published] = [e for e in events if isinstance(e, PostPublished)]
    assert published.external_id == "ext-1"
    assert harness.network.lookups == 1 and len(harness.network.calls) == 1
    [attempt] = attempt_rows(harness)
    assert attempt.state == "interrupted" and "found" in attempt.note


def test_after_a_crash_a_post_the_network_lacks_is_sent_again_with_the_same_key(harness):
    crash_mid_call(harness, "fake", stored=False)
    events = redeliver(harness)
    assert any(isinstance(e, PostPublished) for e in events)
    assert [c.idempotency_key for c in harness.network.calls] == ["tamtam-p1-g1"] * 2
    assert len(harness.network.published) == 1
    assert [a.state for a in attempt_rows(harness)] == ["interrupted", "succeeded"]


def test_after_a_crash_a_network_with_idempotency_only_gets_the_same_key_again(harness):
    crash_mid_call(harness, "idempotent", stored=True)
    events = redeliver(harness)
    assert any(isinstance(e, PostPublished) for e in events)
    assert len(harness.network.published) == 1  # the network dropped the repeat
    assert "drops a repeat" in attempt_rows(harness)[0].note


def test_after_a_crash_a_network_that_can_neither_look_up_nor_deduplicate_is_not_retried(harness):
    crash_mid_call(harness, "plain", stored=True)
    events = redeliver(harness)
    [failure] = [e for e in events if isinstance(e, PostFailed)]
    assert failure.retryable is False and "may or may not be published" in failure.reason
    assert len(harness.network.calls) == 1
    assert attempt_rows(harness)[0].state == "unknown"


def test_an_unexpected_adapter_error_leaves_the_attempt_to_be_settled_like_a_crash(harness):
    schedule(harness)
    harness.network.script = [KeyError("bug")]
    [rescheduled] = [e for e in publish_due(harness) if isinstance(e, PostScheduled)]
    assert attempt_rows(harness)[0].state == "in_flight"
    harness.clock.now = rescheduled.publish_at
    assert any(isinstance(e, PostPublished) for e in publish_due(harness))
    assert harness.network.lookups == 1 and len(harness.network.published) == 1


# --- the crisis pause ---------------------------------------------------------------------------


def pause(harness: Harness) -> None:
    harness.handle(harness.event(BrandPaused(brand_id=harness.brand_id, actor="user:1",
                                             reason="crise")))


def test_a_paused_brand_holds_its_due_posts_and_release_publishes_them(harness):
    schedule(harness)
    pause(harness)
    assert publish_due(harness) == [] and harness.network.calls == []
    assert post_row(harness).status == "held"
    harness.clock.advance(hours=2)
    events = harness.handle(harness.event(BrandResumed(brand_id=harness.brand_id, actor="user:1",
                                                       held_posts="release")))
    [released] = [e.data for e in events]
    assert released.publish_at == harness.clock.now and post_row(harness).status == "scheduled"
    assert any(isinstance(e, PostPublished) for e in publish_due(harness))


def test_held_posts_are_cancelled_or_rescheduled_as_the_resume_says(harness):
    schedule(harness, "p1")
    schedule(harness, "p2", publish_at=harness.clock.now + timedelta(minutes=1))
    pause(harness)
    publish_due(harness, "p1")
    harness.clock.advance(minutes=5)
    publish_due(harness, "p2")
    later = datetime(2026, 3, 10, 9, 0)  # naive: Paris time
    events = harness.handle(harness.event(BrandResumed(
        brand_id=harness.brand_id, actor="user:1", held_posts="reschedule", reschedule_to=later)))
    assert {e.data.publish_at for e in events} == {datetime(2026, 3, 10, 8, 0, tzinfo=UTC)}
    with harness.session() as session:
        assert session.get(PausedBrand, harness.brand_id) is None
    pause(harness)
    harness.clock.now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    publish_due(harness, "p1")
    events = harness.handle(harness.event(BrandResumed(brand_id=harness.brand_id, actor="user:1",
                                                       held_posts="cancel")))
    [cancelled] = [e.data for e in events]
    assert cancelled.post_id == "p1" and cancelled.retryable is False
    assert post_row(harness, "p1").status == "cancelled"
    assert harness.network.calls == []


def test_the_pause_is_checked_again_right_before_the_call(harness, monkeypatch):
    schedule(harness)
    answers = iter([False, True])  # paused between the attempt's commit and the call
    monkeypatch.setattr(attempts, "brand_paused", lambda session, brand_id: next(answers))
    assert publish_due(harness) == []
    assert harness.network.calls == []
    assert post_row(harness).status == "held"
    assert [a.state for a in attempt_rows(harness)] == ["not_sent"]


# --- first comments -----------------------------------------------------------------------


def test_the_first_comment_replies_to_the_post_with_its_own_key(harness):
    schedule(harness, first_comment="Le lien est ici")
    events = publish_due(harness)
    assert [type(e) for e in events] == [PostPublished]
    post, comment = harness.network.calls
    assert comment.reply_to == "ext-1" and comment.text == "Le lien est ici"
    assert comment.idempotency_key == "tamtam-p1-g1-comment"
    assert post_row(harness).first_comment_state == "done"


def test_a_first_comment_lost_to_a_crash_is_posted_on_redelivery(harness):
    schedule(harness, first_comment="Le lien est ici")
    calls = {"n": 0}

    def crash_on_comment(post) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash()

    harness.network.on_call = crash_on_comment
    with pytest.raises(Crash):
        publish_due(harness)
    published = harness.drain_outbox()  # staged with the published state, before the comment
    assert [type(e.data) for e in published] == [PostPublished]
    assert post_row(harness).first_comment_state == "pending"
    redeliver(harness)
    assert post_row(harness).first_comment_state == "done"
    assert len([c for c in harness.network.published if c.reply_to]) == 1
