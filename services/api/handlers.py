"""Events the api service reacts to: it owns social accounts, so it records their status."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.events import AccountDisconnected, Event
from shared.models import SocialAccount


def on_account_disconnected(event: Event, session: Session) -> list[Event]:
    payload = event.data
    assert isinstance(payload, AccountDisconnected)
    account = session.get(SocialAccount, payload.account_id)
    if account is not None and account.agency_id == event.tenant:
        account.status = "disconnected"
        account.status_reason = payload.reason
    return []


HANDLERS = {AccountDisconnected.type: on_account_disconnected}
