"""Publishing a due post exactly once, as far as the network allows.

1. An attempt row, with the post's idempotency key (the same for every retry of the same
   content), is committed before the network is called; the key goes to the network.
2. If the previous attempt is still `in_flight`, the process died (or the adapter blew up)
   during the call: the post is looked up on the network (LOOKUP) and counted as published
   if it is there; otherwise it is published again with the same key, which a network with
   IDEMPOTENCY drops if it already has it. A network with neither is not retried: the post
   fails with the reason, for a person to check.
3. The brand's crisis pause is read (fresh, after that commit) right before each call.
4. RetryLater puts the post back in the schedule after max(after, exponential backoff with
   jitter): the consumer never sleeps. Rejected fails at once. AuthExpired disconnects the
   account: publish may not store refreshed credentials (the api owns them), so it does not
   refresh; the account is marked disconnected (`accounts.disconnected`) and the post fails.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.networks import NetworkRegistry, UnknownNetwork
from plugins.networks.base import (
    FIRST_COMMENT,
    IDEMPOTENCY,
    LOOKUP,
    REPLIES,
    Account,
    AuthExpired,
    Media,
    NetworkAdapter,
    NetworkError,
    OutgoingPost,
    PublishResult,
    Rejected,
    RetryLater,
)
from services.publish.models import (
    AUTH_EXPIRED,
    DUE,
    FAILED,
    HELD,
    IN_FLIGHT,
    INTERRUPTED,
    NOT_SENT,
    PUBLISHED,
    PUBLISHING,
    REJECTED,
    RETRY_LATER,
    SCHEDULED,
    SUCCEEDED,
    UNKNOWN,
    PausedBrand,
    PublishAttempt,
    ScheduledPost,
)
from services.publish.scheduler import account_of, brand_zone
from shared.crypto import SecretBox
from shared.db import utcnow
from shared.events import (
    AccountDisconnected,
    Event,
    PostDue,
    PostFailed,
    PostPublished,
    PostScheduled,
    new_event,
)
from shared.models import SocialAccount

log = logging.getLogger(__name__)

Stage = Callable[[Session, Sequence[Event]], None]


@dataclass(frozen=True)
class PublishPolicy:
    max_retries: int = 8  # RetryLater answers before a post fails (retryable)
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0
    network_timeout_s: float = 20.0

    def backoff(self, retry: int, jitter: float) -> float:
        """Exponential, with 'equal jitter': half fixed, half random, so replicas spread out."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(0, retry - 1))
        return ceiling * (0.5 + 0.5 * jitter)


@dataclass
class PublishDependencies:
    """What the publish handlers need beyond the event and the session (built in main.py)."""

    networks: NetworkRegistry
    secrets: SecretBox
    stage: Stage  # puts events in the outbox of the handler's transaction
    policy: PublishPolicy = field(default_factory=PublishPolicy)
    clock: Callable[[], datetime] = utcnow
    jitter: Callable[[], float] = random.random
    _adapters: dict[str, NetworkAdapter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def adapter(self, network: str) -> NetworkAdapter:
        """The network's adapter, built once; the consumer's threads share it (and its
        connection pool)."""
        with self._lock:
            if network not in self._adapters:
                http = httpx.Client(timeout=httpx.Timeout(self.policy.network_timeout_s,
                                                          connect=5.0))
                self._adapters[network] = self.networks.create(network, http=http)
            return self._adapters[network]


def event_of(post: ScheduledPost, payload: Any) -> Event:
    return new_event(payload, tenant=post.agency_id, source="publish")


def failed(post: ScheduledPost, reason: str, retryable: bool, now: datetime) -> Event:
    post.status, post.failure_reason, post.updated_at = FAILED, reason, now
    return event_of(post, PostFailed(brand_id=post.brand_id, post_id=post.id,
                                     account_id=post.account_id, network=post.network,
                                     reason=reason, retryable=retryable))


def brand_paused(session: Session, brand_id: str) -> bool:
    """A fresh read (not the session's identity map): another process may have just paused."""
    return session.scalar(select(PausedBrand.brand_id).where(PausedBrand.brand_id == brand_id)) \
        is not None


def outgoing_post(post: ScheduledPost) -> OutgoingPost:
    return OutgoingPost(
        text=post.text,
        media=tuple(Media(mime_type=m.get("mime_type", "image/jpeg"),
                          alt_text=m.get("alt_text", ""), url=m.get("url"),
                          size_bytes=m.get("size_bytes")) for m in post.media),
        thread=tuple(post.thread), reply_to=post.reply_to_external_id,
        idempotency_key=post.idempotency_key(),
    )


def network_account(row: SocialAccount, secrets: SecretBox, timezone: str) -> Account:
    credentials = secrets.open(row.credentials_encrypted) if row.credentials_encrypted else {}
    return Account(id=row.id, handle=row.handle, credentials=credentials,
                   settings={"timezone": timezone, **(row.settings or {})})


def on_post_due(event: Event, session: Session, deps: PublishDependencies) -> list[Event]:
    payload = event.data
    assert isinstance(payload, PostDue)
    post = session.get(ScheduledPost, payload.post_id)
    if post is None or post.agency_id != event.tenant:
        return []
    if post.status == PUBLISHED and post.first_comment_state == "pending":
        return publish_first_comment(session, post, deps)  # the process died before it
    if post.status not in (DUE, PUBLISHING):
        return []  # already handled, rescheduled, held or cancelled
    now = deps.clock()
    try:
        adapter = deps.adapter(post.network)
    except UnknownNetwork as error:
        return [failed(post, str(error), retryable=False, now=now)]
    row = account_of(session, post.account_id, post.agency_id)
    if row is None:
        return [failed(post, "the account no longer exists", retryable=False, now=now)]
    if row.status == "disconnected":
        reason = f"the account is disconnected: {row.status_reason or 'reconnect it'}"
        return [failed(post, reason, retryable=True, now=now)]
    zone = brand_zone(session, post.brand_id, post.agency_id)
    account = network_account(row, deps.secrets, zone.key)
    outgoing = outgoing_post(post)

    earlier = session.scalars(select(PublishAttempt).where(
        PublishAttempt.post_id == post.id, PublishAttempt.generation == post.generation)).all()
    interrupted = next((attempt for attempt in earlier if attempt.state == IN_FLIGHT), None)
    if interrupted is not None:
        settled = settle_interrupted(session, post, interrupted, adapter, account, outgoing, deps)
        if settled is not None:
            return settled

    if brand_paused(session, post.brand_id):
        return hold(post, now)
    problems = adapter.validate(outgoing, account)
    if problems:
        reason = "; ".join(problem.message for problem in problems)
        return [failed(post, f"{adapter.display_name} refuses this post: {reason}", False, now)]

    attempt = PublishAttempt(
        agency_id=post.agency_id, post_id=post.id, generation=post.generation,
        number=max((attempt.number for attempt in earlier), default=0) + 1,
        idempotency_key=post.idempotency_key(),
        state=IN_FLIGHT, started_at=now,
    )
    session.add(attempt)
    post.status = PUBLISHING
    session.commit()  # the attempt exists before the network hears of the post
    if brand_paused(session, post.brand_id):  # right before the call
        attempt.state, attempt.note = NOT_SENT, "the brand was paused; the network was not called"
        attempt.finished_at = deps.clock()
        return hold(post, deps.clock())
    try:
        result = adapter.publish(outgoing, account)
    except RetryLater as error:
        return retry_later(post, attempt, error.reason, error.after, deps)
    except Rejected as error:
        finish(attempt, REJECTED, error.reason, deps)
        return [failed(post, f"{adapter.display_name} refused the post: {error.reason}",
                       retryable=False, now=deps.clock())]
    except AuthExpired as error:
        finish(attempt, AUTH_EXPIRED, error.reason, deps)
        return disconnect(post, adapter, error.reason, deps)
    except NetworkError as error:  # Unsupported: this network cannot publish this post
        finish(attempt, REJECTED, str(error), deps)
        return [failed(post, str(error), retryable=False, now=deps.clock())]
    except Exception as error:  # an adapter bug or an untranslated error: outcome unknown
        log.exception("publish call failed in an unexpected way", extra={"post_id": post.id})
        attempt.note = f"{type(error).__name__}: {error}"[:2000]
        # The attempt stays in flight: the next try settles it as after a crash.
        return reschedule(post, attempt.note, None, deps)
    finish(attempt, SUCCEEDED, "", deps, external_id=result.external_id)
    return published(session, post, result, deps)


def finish(attempt: PublishAttempt, state: str, note: str, deps: PublishDependencies,
           external_id: str | None = None) -> None:
    attempt.state, attempt.note, attempt.finished_at = state, note[:2000], deps.clock()
    attempt.external_id = external_id


def settle_interrupted(
    session: Session, post: ScheduledPost, attempt: PublishAttempt, adapter: NetworkAdapter,
    account: Account, outgoing: OutgoingPost, deps: PublishDependencies,
) -> list[Event] | None:
    """Decide what an attempt left in flight did. Returns the events when the post is settled
    (published, failed or rescheduled), None when publishing again (same key) is safe."""
    name = adapter.display_name
    if adapter.supports(LOOKUP):
        try:
            found = adapter.find_published(outgoing, account)
        except RetryLater as error:
            return reschedule(post, f"lookup after an interrupted call: {error.reason}",
                              error.after, deps)
        except AuthExpired as error:
            finish(attempt, AUTH_EXPIRED, error.reason, deps)
            return disconnect(post, adapter, error.reason, deps)
        except NetworkError as error:
            found, lookup_error = None, str(error)
        else:
            lookup_error = ""
        if found is not None:
            finish(attempt, INTERRUPTED, f"interrupted; found on {name} by its idempotency key",
                   deps, external_id=found.external_id)
            return published(session, post, found, deps)
        if not lookup_error:
            finish(attempt, INTERRUPTED, f"interrupted; not on {name}, publishing again with "
                   "the same idempotency key", deps)
            return None
    if adapter.supports(IDEMPOTENCY):
        finish(attempt, INTERRUPTED, f"interrupted; {name} drops a repeat of the same "
               "idempotency key, so publishing again is safe", deps)
        return None
    reason = (f"a call to {name} was interrupted and {name} can neither look the post up nor "
              "drop a repeat: it may or may not be published. Not retried automatically; check "
              "the account, then approve the post again if it is missing")
    finish(attempt, UNKNOWN, reason, deps)
    return [failed(post, reason, retryable=False, now=deps.clock())]


def hold(post: ScheduledPost, now: datetime) -> list[Event]:
    post.status, post.updated_at = HELD, now
    return []


def reschedule(post: ScheduledPost, reason: str, after: float | None,
               deps: PublishDependencies) -> list[Event]:
    now = deps.clock()
    post.retries += 1
    if post.retries > deps.policy.max_retries:
        return [failed(post, f"gave up after {post.retries} tries: {reason}", retryable=True,
                       now=now)]
    delay = max(after or 0.0, deps.policy.backoff(post.retries, deps.jitter()))
    post.status, post.claimed_at = SCHEDULED, None
    post.publish_at = now + timedelta(seconds=delay)
    post.schedule_note = f"retry {post.retries} in {delay:.0f} s: {reason}"[:2000]
    return [event_of(post, PostScheduled(brand_id=post.brand_id, post_id=post.id,
                                         account_id=post.account_id, publish_at=post.publish_at))]


def retry_later(post: ScheduledPost, attempt: PublishAttempt, reason: str, after: float | None,
                deps: PublishDependencies) -> list[Event]:
    finish(attempt, RETRY_LATER, reason, deps)
    return reschedule(post, reason, after, deps)


def disconnect(post: ScheduledPost, adapter: NetworkAdapter, reason: str,
               deps: PublishDependencies) -> list[Event]:
    """The api owns the credentials, so refreshed ones could not be stored: disconnect."""
    why = (f"{adapter.display_name} no longer accepts the account's authorization ({reason}); "
           "reconnect the account, then approve the post again")
    return [
        event_of(post, AccountDisconnected(brand_id=post.brand_id, account_id=post.account_id,
                                           reason=why)),
        failed(post, why, retryable=True, now=deps.clock()),
    ]


def published(session: Session, post: ScheduledPost, result: PublishResult,
              deps: PublishDependencies) -> list[Event]:
    now = deps.clock()
    post.status, post.external_id, post.url = PUBLISHED, result.external_id, result.url
    post.published_at = post.updated_at = now
    post.first_comment_state = "pending" if post.first_comment.strip() else "none"
    news = [event_of(post, PostPublished(
        brand_id=post.brand_id, post_id=post.id, account_id=post.account_id, network=post.network,
        external_id=result.external_id, url=result.url, published_at=now))]
    if post.first_comment_state == "none":
        return news
    deps.stage(session, news)
    session.commit()  # the post is published whatever happens to its first comment
    return publish_first_comment(session, post, deps)


def publish_first_comment(session: Session, post: ScheduledPost,
                          deps: PublishDependencies) -> list[Event]:
    """One try, replying to the post with its own idempotency key; never fails the post."""
    adapter = deps.adapter(post.network)
    if not (adapter.supports(FIRST_COMMENT) or adapter.supports(REPLIES)):
        post.first_comment_state = "unsupported"
        return []
    if brand_paused(session, post.brand_id):
        post.first_comment_state = "skipped"  # a crisis began between the post and its comment
        return []
    row = account_of(session, post.account_id, post.agency_id)
    if row is None:
        post.first_comment_state = "failed"
        return []
    zone = brand_zone(session, post.brand_id, post.agency_id)
    account = network_account(row, deps.secrets, zone.key)
    comment = OutgoingPost(text=post.first_comment, reply_to=post.external_id,
                           idempotency_key=f"{post.idempotency_key()}-comment")
    try:
        adapter.publish(comment, account)
    except NetworkError as error:
        post.first_comment_state = "failed"
        post.schedule_note = f"first comment not published: {error}"[:2000]
        return []
    post.first_comment_state = "done"
    return []
