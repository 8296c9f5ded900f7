"""Creating webhook deliveries from events, and sending the due ones.

- `enqueue` (called by the api's event handlers) writes one delivery row per active
  subscription of the event's agency that listens to the event type; the unique
  (subscription, event) pair makes a redelivered event a no-op.
- `deliver_due` sends what is due: each row is claimed first (an optimistic update of its
  `next_attempt_at`, so two api replicas never send the same attempt), then POSTed,
  signed, to the subscription's URL through `shared.netguard` (the URL is resolved and
  every address checked; private, loopback and link-local ones are refused unless
  `TAMTAM_WEBHOOK_ALLOW_HOSTS` lists them; the connection goes to the vetted address;
  redirects are not followed). A 2xx is a success. Anything else is retried with
  exponential backoff and jitter (`Retry-After` is honoured) until `retry_until`, a day
  after the event by default; then the delivery is marked failed. A 410 Gone disables the
  subscription, as the Standard Webhooks spec recommends.
- `deliver_webhooks(context, stop)` is the background loop the api wiring runs.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.api.webhooks import signing
from services.api.webhooks.models import (
    FAILED,
    PENDING,
    SUCCEEDED,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    public_name,
)
from shared.config import Settings
from shared.crypto import SecretBox
from shared.db import utcnow
from shared.events import Event
from shared.netguard import AllowList, BlockedAddress, vet_url
from shared.wiring import ServiceContext

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 6 * 3600.0
CLAIM_LEASE_S = 120.0  # a claimed row is not picked again for this long (a crashed sender)
BATCH = 50
SENDERS = 4


def body_of(event: Event) -> str:
    """The JSON text sent: the Standard Webhooks shape `{type, timestamp, data}`."""
    return json.dumps(
        {
            "type": public_name(event.type),
            "timestamp": event.time.isoformat(),
            "event_id": event.id,
            "data": event.data.model_dump(mode="json"),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def enqueue(event: Event, session: Session) -> list[WebhookDelivery]:
    name = public_name(event.type)
    subscriptions = session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.agency_id == event.tenant, WebhookSubscription.active.is_(True)
        )
    ).all()
    now = utcnow()
    created = []
    for subscription in subscriptions:
        if name not in subscription.events:
            continue
        exists = session.scalar(
            select(WebhookDelivery.id).where(
                WebhookDelivery.subscription_id == subscription.id,
                WebhookDelivery.event_id == event.id,
            )
        )
        if exists:
            continue
        delivery = WebhookDelivery(
            agency_id=event.tenant,
            subscription_id=subscription.id,
            event_id=event.id,
            event_type=name,
            body=body_of(event),
            status=PENDING,
            next_attempt_at=now,
        )
        session.add(delivery)
        created.append(delivery)
    session.flush()
    return created


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str
    duration_ms: int
    retry_after_s: float | None = None
    permanent: bool = False  # no point retrying (the address is refused)

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def refusal(error: BlockedAddress) -> str:
    """netguard's reason, naming the setting that applies to webhooks."""
    return str(error).replace("TAMTAM_FETCH_ALLOW_NETWORKS", "TAMTAM_WEBHOOK_ALLOW_HOSTS")


def post_signed(
    http: httpx.Client,
    url: str,
    secret: str,
    message_id: str,
    body: str,
    allow: AllowList,
) -> AttemptResult:
    """One attempt: vet the URL, POST the signed body to a vetted address, classify the answer."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = vet_url(url, allow)
    except BlockedAddress as error:
        return AttemptResult(None, f"refused: {refusal(error)}", elapsed(), permanent=True)
    headers = {
        **signing.signed_headers(secret, message_id, int(time.time()), body),
        "user-agent": "Tamtam-Webhooks/1",
        "host": target.host_header,
    }
    error_text = ""
    for address in target.addresses:
        extensions = {"sni_hostname": target.host} if target.url.startswith("https") else {}
        request = http.build_request(
            "POST",
            target.url_for(address),
            content=body.encode(),
            headers=headers,
            extensions=extensions,
        )
        try:
            response = http.send(request)
        except httpx.ConnectError as error:
            error_text = f"cannot connect: {error}"
            continue
        except httpx.HTTPError as error:
            return AttemptResult(None, f"{type(error).__name__}: {error}"[:500], elapsed())
        error_text = "" if 200 <= response.status_code < 300 else response.text[:500]
        return AttemptResult(
            response.status_code,
            error_text,
            elapsed(),
            retry_after_s=_retry_after(response.headers.get("retry-after")),
        )
    return AttemptResult(None, error_text[:500] or "no address answered", elapsed())


def next_attempt(attempts: int, base_s: float, retry_after_s: float | None) -> timedelta:
    """Exponential backoff with ±20% jitter, at most six hours, never before `Retry-After`."""
    wait = min(base_s * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S) * random.uniform(0.8, 1.2)
    return timedelta(seconds=max(wait, retry_after_s or 0.0))


def record_attempt(
    session: Session,
    delivery: WebhookDelivery,
    subscription: WebhookSubscription,
    result: AttemptResult,
    settings: Settings,
    now: datetime,
) -> None:
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            agency_id=delivery.agency_id,
            delivery_id=delivery.id,
            number=delivery.attempts,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
    )
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    if result.succeeded:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = SUCCEEDED, now, None
        return
    if result.status_code == 410:
        subscription.active = False
        subscription.disabled_reason = "the receiver answered 410 Gone"
    retry_at = now + next_attempt(
        delivery.attempts, settings.webhook_retry_base_s, result.retry_after_s
    )
    deadline = delivery.retry_until or (
        delivery.created_at + timedelta(seconds=settings.webhook_retry_window_s)
    )
    if result.permanent or result.status_code == 410 or retry_at > deadline:
        delivery.status, delivery.next_attempt_at = FAILED, None
    else:
        delivery.next_attempt_at = retry_at


def _claim(session_factory: sessionmaker[Session], now: datetime, limit: int) -> list[str]:
    """Ids of due deliveries this process now owns (their next attempt pushed past a lease)."""
    lease_end = now + timedelta(seconds=CLAIM_LEASE_S)
    claimed = []
    with session_factory() as session:
        due = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
            .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        ).all()
        for delivery_id, seen_at in due:
            result = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.next_attempt_at == seen_at
                )
                .values(next_attempt_at=lease_end)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
        session.commit()
    return claimed


def _send_one(
    delivery_id: str,
    session_factory: sessionmaker[Session],
    http: httpx.Client,
    box: SecretBox,
    settings: Settings,
    allow: AllowList,
) -> bool:
    with session_factory() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != PENDING:
            return False
        subscription = session.get(WebhookSubscription, delivery.subscription_id)
        if subscription is None or not subscription.active:
            delivery.status, delivery.next_attempt_at = FAILED, None
            delivery.last_error = "the subscription is disabled"
            session.commit()
            return False
        secret = box.open(subscription.secret_encrypted)["secret"]
        url, body = subscription.url, delivery.body
    result = post_signed(http, url, secret, delivery_id, body, allow)
    with session_factory() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        subscription = (
            session.get(WebhookSubscription, delivery.subscription_id) if delivery else None
        )
        if delivery is None or subscription is None:
            return False
        record_attempt(session, delivery, subscription, result, settings, utcnow())
        session.commit()
    log.info(
        "webhook attempt",
        extra={
            "delivery_id": delivery_id,
            "status_code": result.status_code,
            "succeeded": result.succeeded,
        },
    )
    return result.succeeded


def deliver_due(
    session_factory: sessionmaker[Session],
    settings: Settings,
    box: SecretBox,
    http: httpx.Client | None = None,
    limit: int = BATCH,
) -> int:
    """One pass: send every due delivery (up to `limit`); returns how many attempts were made."""
    allow = AllowList.parse(settings.webhook_allow_hosts)
    ids = _claim(session_factory, utcnow(), limit)
    if not ids:
        return 0
    own = http is None
    client = http or httpx.Client(
        timeout=settings.webhook_timeout_s, trust_env=False, follow_redirects=False
    )
    try:
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(ids))) as pool:
            list(
                pool.map(lambda i: _send_one(i, session_factory, client, box, settings, allow), ids)
            )
    finally:
        if own:
            client.close()
    return len(ids)


def replay(delivery: WebhookDelivery, settings: Settings) -> None:
    """Send a delivery again (same `webhook-id`, so a receiver can tell), with a fresh window."""
    now = utcnow()
    delivery.status, delivery.next_attempt_at = PENDING, now
    delivery.retry_until = now + timedelta(seconds=settings.webhook_retry_window_s)


def deliver_webhooks(context: ServiceContext, stop: threading.Event) -> None:
    """Background loop of the api process (see services/api/main.py)."""
    settings = context.settings
    box: SecretBox = context.extras["secrets"]
    with httpx.Client(
        timeout=settings.webhook_timeout_s, trust_env=False, follow_redirects=False
    ) as http:
        while not stop.is_set():
            try:
                sent = deliver_due(context.session_factory, settings, box, http)
            except Exception:  # the loop must outlive a database hiccup
                log.exception("webhook delivery pass failed")
                sent = 0
            if not sent:
                stop.wait(settings.webhook_poll_interval_s)
