"""Brands and social accounts: the api service's own rows, always scoped to one agency.

Every change is written to the audit log (`services.api.audit`) in the same transaction.
Brands and accounts carry an ETag (a hash of their id and `updated_at`); a PATCH or DELETE
that sends `If-Match` with a stale one is refused with 412.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from plugins.networks import NetworkRegistry, UnknownNetwork
from services.api import audit, schemas
from shared.crypto import SecretBox
from shared.db import get_owned, tenant_select
from shared.models import Brand, SocialAccount
from shared.pagination import page_of, paginate
from shared.problems import Problem

# --- ETags ----------------------------------------------------------------------------


def etag_of(row: Brand | SocialAccount) -> str:
    """A strong ETag: it changes whenever the row is updated."""
    digest = hashlib.sha256(f"{row.id}|{row.updated_at.isoformat()}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def check_if_match(if_match: str | None, row: Brand | SocialAccount) -> None:
    """RFC 9110 If-Match, strong comparison (a weak `W/` tag never matches)."""
    if if_match is None:
        return
    tags = _tags(if_match)
    if "*" in tags or etag_of(row) in tags:
        return
    raise Problem(
        412,
        "the resource changed since you read it: its ETag no longer matches "
        "If-Match; GET it again and retry with the new ETag",
        kind="etag-mismatch",
        headers={"ETag": etag_of(row)},
    )


def not_modified(if_none_match: str | None, row: Brand | SocialAccount) -> bool:
    """RFC 9110 If-None-Match on GET, weak comparison."""
    if if_none_match is None:
        return False
    current = etag_of(row)
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(if_none_match))


# --- brands ---------------------------------------------------------------------------


def list_brands(
    session: Session, agency_id: str, cursor: str | None, limit: int
) -> schemas.BrandPage:
    rows = list(session.scalars(paginate(tenant_select(Brand, agency_id), Brand, cursor, limit)))
    items, next_cursor = page_of(rows, limit)
    return schemas.BrandPage(
        items=[schemas.BrandRead.model_validate(b) for b in items], next_cursor=next_cursor
    )


def create_brand(
    session: Session, agency_id: str, body: schemas.BrandCreate, actor: str = "system"
) -> Brand:
    brand = Brand(agency_id=agency_id, **body.model_dump())
    session.add(brand)
    session.flush()
    audit.record(
        session,
        agency_id=agency_id,
        actor=actor,
        action="created",
        resource_type="brand",
        resource_id=brand.id,
        after=audit.snapshot(brand),
    )
    return brand


def update_brand(
    session: Session,
    agency_id: str,
    brand_id: str,
    body: schemas.BrandUpdate,
    actor: str = "system",
    if_match: str | None = None,
) -> Brand:
    brand = get_owned(session, Brand, brand_id, agency_id)
    check_if_match(if_match, brand)
    before = audit.snapshot(brand)
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            raise Problem(422, f"{field} cannot be null", kind="validation-error")
        setattr(brand, field, value)
    session.flush()
    audit.record(
        session,
        agency_id=agency_id,
        actor=actor,
        action="updated",
        resource_type="brand",
        resource_id=brand.id,
        before=before,
        after=audit.snapshot(brand),
    )
    return brand


def delete_brand(
    session: Session,
    agency_id: str,
    brand_id: str,
    actor: str = "system",
    if_match: str | None = None,
) -> None:
    brand = get_owned(session, Brand, brand_id, agency_id)
    check_if_match(if_match, brand)
    audit.record(
        session,
        agency_id=agency_id,
        actor=actor,
        action="deleted",
        resource_type="brand",
        resource_id=brand.id,
        before=audit.snapshot(brand),
    )
    session.delete(brand)
    session.flush()


# --- accounts -------------------------------------------------------------------------


def account_read(account: SocialAccount) -> schemas.AccountRead:
    return schemas.AccountRead(
        id=account.id,
        brand_id=account.brand_id,
        network=account.network,
        handle=account.handle,
        display_name=account.display_name,
        status=account.status,
        status_reason=account.status_reason,
        settings=account.settings,
        has_credentials=account.credentials_encrypted is not None,
        created_at=account.created_at,
    )


def list_accounts(
    session: Session, agency_id: str, brand_id: str | None, cursor: str | None, limit: int
) -> schemas.AccountPage:
    query = tenant_select(SocialAccount, agency_id)
    if brand_id:
        query = query.where(SocialAccount.brand_id == brand_id)
    rows = list(session.scalars(paginate(query, SocialAccount, cursor, limit)))
    items, next_cursor = page_of(rows, limit)
    return schemas.AccountPage(items=[account_read(a) for a in items], next_cursor=next_cursor)


def _sealed(box: SecretBox, credentials: dict[str, Any]) -> bytes | None:
    if not credentials:
        return None
    return box.seal({name: secret.get_secret_value() for name, secret in credentials.items()})


def create_account(
    session: Session,
    agency_id: str,
    body: schemas.AccountCreate,
    networks: NetworkRegistry,
    box: SecretBox,
    actor: str = "system",
) -> SocialAccount:
    get_owned(session, Brand, body.brand_id, agency_id)  # 404 for another agency's brand
    try:
        networks.adapter_class(body.network)
    except UnknownNetwork as error:
        raise Problem(422, str(error), kind="unknown-network") from None
    account = SocialAccount(
        agency_id=agency_id,
        brand_id=body.brand_id,
        network=body.network,
        handle=body.handle,
        display_name=body.display_name,
        settings=body.settings,
        credentials_encrypted=_sealed(box, body.credentials),
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        agency_id=agency_id,
        actor=actor,
        action="created",
        resource_type="account",
        resource_id=account.id,
        after=audit.snapshot(account),
    )
    return account


def update_account(
    session: Session,
    agency_id: str,
    account_id: str,
    body: schemas.AccountUpdate,
    box: SecretBox,
    actor: str = "system",
    if_match: str | None = None,
) -> SocialAccount:
    account = get_owned(session, SocialAccount, account_id, agency_id)
    check_if_match(if_match, account)
    before = audit.snapshot(account)
    changes = body.model_dump(exclude_unset=True, exclude={"credentials"})
    for field, value in changes.items():
        if value is None:
            raise Problem(422, f"{field} cannot be null", kind="validation-error")
        setattr(account, field, value)
    if body.credentials is not None:
        account.credentials_encrypted = _sealed(box, body.credentials)
        account.status, account.status_reason = "connected", ""
    session.flush()
    after = audit.snapshot(account)
    if body.credentials is not None:
        after["credentials_replaced"] = True  # that they changed, never what they are
    audit.record(
        session,
        agency_id=agency_id,
        actor=actor,
        action="updated",
        resource_type="account",
        resource_id=account.id,
        before=before,
        after=after,
    )
    return account


def delete_account(
    session: Session,
    agency_id: str,
    account_id: str,
    actor: str = "system",
    if_match: str | None = None,
) -> None:
    account = get_owned(session, SocialAccount, account_id, agency_id)
    check_if_match(if_match, account)
    audit.record(
        session,
        agency_id=agency_id,
        actor=actor,
        action="deleted",
        resource_type="account",
        resource_id=account.id,
        before=audit.snapshot(account),
    )
    session.delete(account)
    session.flush()


def mark_disconnected(session: Session, account: SocialAccount, reason: str, actor: str) -> None:
    before = audit.snapshot(account)
    account.status, account.status_reason = "disconnected", reason
    session.flush()
    audit.record(
        session,
        agency_id=account.agency_id,
        actor=actor,
        action="updated",
        resource_type="account",
        resource_id=account.id,
        before=before,
        after=audit.snapshot(account),
    )
