"""Routes for webhook subscriptions and their delivery log (mounted by services/api/api.py).

Anyone in the agency may read them; only an admin key creates, changes, deletes or replays.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api import audit
from services.api.deps import ContextDep, PrincipalDep, SessionDep
from services.api.webhooks import delivery, schemas, signing
from services.api.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from shared.crypto import SecretBox
from shared.db import get_owned, tenant_select
from shared.netguard import AllowList, BlockedAddress, vet_url
from shared.pagination import page_of, paginate
from shared.problems import Problem

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


def _check_url(url: str, allow_hosts: str) -> None:
    try:
        vet_url(url, AllowList.parse(allow_hosts))
    except BlockedAddress as error:
        reason = delivery.refusal(error)
        raise Problem(
            422,
            f"this webhook URL cannot be used: {reason}",
            kind="webhook-url-refused",
            errors=[{"pointer": "url", "detail": reason}],
        ) from None
    except ValueError as error:  # a malformed address in the URL
        raise Problem(
            422, f"this webhook URL is malformed: {error}", kind="webhook-url-refused"
        ) from None


def _audit(
    session: Session,
    principal: PrincipalDep,
    action: audit.Action,
    row: WebhookSubscription,
    before: dict[str, object] | None = None,
    deleted: bool = False,
) -> None:
    audit.record(
        session,
        agency_id=row.agency_id,
        actor=principal.actor,
        action=action,
        resource_type="webhook",
        resource_id=row.id,
        before=before,
        after=None if deleted else audit.snapshot(row),
    )


# Delivery routes first: `/webhooks/deliveries` must not be taken for a subscription id.


@router.get("/deliveries", response_model=schemas.DeliveryPage)
def list_deliveries(
    principal: PrincipalDep,
    session: SessionDep,
    subscription_id: str | None = None,
    status_filter: Annotated[
        Literal["pending", "succeeded", "failed"] | None, Query(alias="status")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
):
    """The delivery log, newest first."""
    query = tenant_select(WebhookDelivery, principal.agency_id)
    if subscription_id:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    if status_filter:
        query = query.where(WebhookDelivery.status == status_filter)
    rows, next_cursor = page_of(
        list(session.scalars(paginate(query, WebhookDelivery, cursor, limit))), limit
    )
    return schemas.DeliveryPage(
        items=[schemas.DeliveryRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


def _detail(session: Session, row: WebhookDelivery) -> schemas.DeliveryDetail:
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == row.id)
        .order_by(WebhookAttempt.number)
    ).all()
    return schemas.DeliveryDetail(
        **schemas.DeliveryRead.model_validate(row).model_dump(),
        body=row.body,
        log=[schemas.AttemptRead.model_validate(a) for a in attempts],
    )


@router.get("/deliveries/{delivery_id}", response_model=schemas.DeliveryDetail)
def get_delivery(delivery_id: str, principal: PrincipalDep, session: SessionDep):
    """One delivery with the log of its attempts (status codes, errors, durations)."""
    return _detail(session, get_owned(session, WebhookDelivery, delivery_id, principal.agency_id))


@router.post(
    "/deliveries/{delivery_id}/replay", response_model=schemas.DeliveryDetail, status_code=202
)
def replay_delivery(
    delivery_id: str, principal: PrincipalDep, session: SessionDep, context: ContextDep
):
    """Send this delivery again (soon, by the delivery loop), with a fresh day of retries."""
    principal.require("admin")
    row = get_owned(session, WebhookDelivery, delivery_id, principal.agency_id)
    subscription = session.get(WebhookSubscription, row.subscription_id)
    if subscription is None or not subscription.active:
        raise Problem(
            409, "its subscription is disabled; set it active first", kind="webhook-disabled"
        )
    delivery.replay(row, context.settings)
    session.commit()
    return _detail(session, row)


@router.get("", response_model=schemas.WebhookPage)
def list_webhooks(
    principal: PrincipalDep, session: SessionDep, cursor: Cursor = None, limit: Limit = 50
):
    query = tenant_select(WebhookSubscription, principal.agency_id)
    rows, next_cursor = page_of(
        list(session.scalars(paginate(query, WebhookSubscription, cursor, limit))), limit
    )
    return schemas.WebhookPage(
        items=[schemas.WebhookRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.post("", response_model=schemas.WebhookCreated, status_code=201)
def create_webhook(
    body: schemas.WebhookCreate, principal: PrincipalDep, session: SessionDep, context: ContextDep
):
    """Subscribe a URL to events. The signing secret is in this answer only."""
    principal.require("admin")
    _check_url(body.url, context.settings.webhook_allow_hosts)
    secret = signing.new_secret()
    box: SecretBox = context.extras["secrets"]
    row = WebhookSubscription(
        agency_id=principal.agency_id,
        url=body.url,
        events=sorted(set(body.events)),
        description=body.description,
        secret_encrypted=box.seal({"secret": secret}),
    )
    session.add(row)
    session.flush()
    _audit(session, principal, "created", row)
    session.commit()
    return schemas.WebhookCreated(
        **schemas.WebhookRead.model_validate(row).model_dump(), secret=secret
    )


@router.get("/{webhook_id}", response_model=schemas.WebhookRead)
def get_webhook(webhook_id: str, principal: PrincipalDep, session: SessionDep):
    return get_owned(session, WebhookSubscription, webhook_id, principal.agency_id)


@router.patch("/{webhook_id}", response_model=schemas.WebhookRead)
def update_webhook(
    webhook_id: str,
    body: schemas.WebhookUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
):
    principal.require("admin")
    row = get_owned(session, WebhookSubscription, webhook_id, principal.agency_id)
    before = audit.snapshot(row)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            raise Problem(422, f"{field} cannot be null", kind="validation-error")
    if "url" in changes:
        _check_url(changes["url"], context.settings.webhook_allow_hosts)
    for field, value in changes.items():
        setattr(row, field, sorted(set(value)) if field == "events" else value)
    if changes.get("active"):
        row.disabled_reason = ""
    session.flush()
    _audit(session, principal, "updated", row, before)
    session.commit()
    return row


@router.post("/{webhook_id}/rotate-secret", response_model=schemas.WebhookCreated)
def rotate_webhook_secret(
    webhook_id: str, principal: PrincipalDep, session: SessionDep, context: ContextDep
):
    """A new signing secret, used from the next attempt on; shown once."""
    principal.require("admin")
    row = get_owned(session, WebhookSubscription, webhook_id, principal.agency_id)
    secret = signing.new_secret()
    row.secret_encrypted = context.extras["secrets"].seal({"secret": secret})
    session.flush()
    _audit(session, principal, "rotated", row, audit.snapshot(row))
    session.commit()
    return schemas.WebhookCreated(
        **schemas.WebhookRead.model_validate(row).model_dump(), secret=secret
    )


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    principal.require("admin")
    row = get_owned(session, WebhookSubscription, webhook_id, principal.agency_id)
    _audit(session, principal, "deleted", row, audit.snapshot(row), deleted=True)
    session.delete(row)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
