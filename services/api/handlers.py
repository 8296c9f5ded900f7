"""Events the api service reacts to: it owns social accounts, so it records their status; and it
turns public events into webhook deliveries for the subscriptions of the event's agency."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.api import tenancy
from services.api.webhooks import delivery
from shared.events import (
    AccountDisconnected,
    BrandPaused,
    BrandResumed,
    CrisisAlerted,
    Event,
    PostFailed,
    PostPublished,
    ReviewRequested,
)
from shared.models import SocialAccount


def on_account_disconnected(event: Event, session: Session) -> list[Event]:
    payload = event.data
    assert isinstance(payload, AccountDisconnected)
    account = session.get(SocialAccount, payload.account_id)
    if account is not None and account.agency_id == event.tenant:
        tenancy.mark_disconnected(session, account, payload.reason, actor=f"event:{event.type}")
    return []


def on_public_event(event: Event, session: Session) -> list[Event]:
    """One delivery row per matching webhook subscription; the delivery loop sends them."""
    delivery.enqueue(event, session)
    return []


WEBHOOK_EVENT_TYPES = tuple(
    payload.type
    for payload in (
        PostPublished,
        PostFailed,
        ReviewRequested,
        CrisisAlerted,
        BrandPaused,
        BrandResumed,
    )
)

HANDLERS = {
    AccountDisconnected.type: on_account_disconnected,
    **{name: on_public_event for name in WEBHOOK_EVENT_TYPES},
}
