"""Brands and social accounts: the api service's own rows, always scoped to one agency."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from plugins.networks import NetworkRegistry, UnknownNetwork
from shared.crypto import SecretBox
from shared.db import get_owned, tenant_select
from shared.models import Brand, SocialAccount
from shared.pagination import page_of, paginate
from shared.problems import Problem

from services.api import schemas


def list_brands(session: Session, agency_id: str, cursor: str | None, limit: int) -> schemas.BrandPage:
    rows = list(session.scalars(paginate(tenant_select(Brand, agency_id), Brand, cursor, limit)))
    items, next_cursor = page_of(rows, limit)
    return schemas.BrandPage(items=[schemas.BrandRead.model_validate(b) for b in items],
                             next_cursor=next_cursor)


def create_brand(session: Session, agency_id: str, body: schemas.BrandCreate) -> Brand:
    brand = Brand(agency_id=agency_id, **body.model_dump())
    session.add(brand)
    session.flush()
    return brand


def update_brand(session: Session, agency_id: str, brand_id: str, body: schemas.BrandUpdate) -> Brand:
    brand = get_owned(session, Brand, brand_id, agency_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            raise Problem(422, f"{field} cannot be null", kind="validation-error")
        setattr(brand, field, value)
    session.flush()
    return brand


def account_read(account: SocialAccount) -> schemas.AccountRead:
    return schemas.AccountRead(
        id=account.id, brand_id=account.brand_id, network=account.network, handle=account.handle,
        display_name=account.display_name, status=account.status, status_reason=account.status_reason,
        settings=account.settings, has_credentials=account.credentials_encrypted is not None,
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
    session: Session, agency_id: str, body: schemas.AccountCreate,
    networks: NetworkRegistry, box: SecretBox,
) -> SocialAccount:
    get_owned(session, Brand, body.brand_id, agency_id)  # 404 for another agency's brand
    try:
        networks.adapter_class(body.network)
    except UnknownNetwork as error:
        raise Problem(422, str(error), kind="unknown-network") from None
    account = SocialAccount(
        agency_id=agency_id, brand_id=body.brand_id, network=body.network, handle=body.handle,
        display_name=body.display_name, settings=body.settings,
        credentials_encrypted=_sealed(box, body.credentials),
    )
    session.add(account)
    session.flush()
    return account


def update_account(
    session: Session, agency_id: str, account_id: str, body: schemas.AccountUpdate, box: SecretBox
) -> SocialAccount:
    account = get_owned(session, SocialAccount, account_id, agency_id)
    changes = body.model_dump(exclude_unset=True, exclude={"credentials"})
    for field, value in changes.items():
        if value is None:
            raise Problem(422, f"{field} cannot be null", kind="validation-error")
        setattr(account, field, value)
    if body.credentials is not None:
        account.credentials_encrypted = _sealed(box, body.credentials)
        account.status, account.status_reason = "connected", ""
    session.flush()
    return account
