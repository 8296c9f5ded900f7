"""Routes of the agency REST API: brands, social accounts, API keys, the audit log, webhooks
(`services/api/webhooks/api.py`) and the system's status.
Thin: each route checks the caller, calls a function in `tenancy`/`keys`/`audit`, and commits."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Header, Query, Response, status

from services.api import audit, keys, schemas, tenancy
from services.api.deps import ContextDep, PrincipalDep, SessionDep
from services.api.webhooks import api as webhooks_api
from shared.config import SERVICES
from shared.db import get_owned
from shared.models import ApiKey, Brand, SocialAccount
from shared.problems import Problem

router = APIRouter(prefix="/v1")
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
IfMatch = Annotated[
    str | None,
    Header(
        description=(
            "The ETag you read; the change is refused with 412 if the resource changed since."
        )
    ),
]
IfNoneMatch = Annotated[
    str | None, Header(description="An ETag you hold; 304 if it is still current.")
]
WRITERS = ("admin", "editor")
ETAG_HEADER = {
    "ETag": {
        "description": "Send it back in If-Match to change this version only.",
        "schema": {"type": "string"},
    }
}
WITH_ETAG = {200: {"headers": ETAG_HEADER}, 304: {"description": "Not modified."}}
CONDITIONAL = {412: {"description": "If-Match does not match the current ETag."}}


def _with_etag(response: Response, row: Brand | SocialAccount) -> None:
    response.headers["ETag"] = tenancy.etag_of(row)


def _not_modified(row: Brand | SocialAccount) -> Response:
    return Response(status_code=304, headers={"ETag": tenancy.etag_of(row)})


# --- brands ---------------------------------------------------------------------------


@router.get("/brands", response_model=schemas.BrandPage, tags=["brands"])
def list_brands(
    principal: PrincipalDep, session: SessionDep, cursor: Cursor = None, limit: Limit = 50
):
    return tenancy.list_brands(session, principal.agency_id, cursor, limit)


@router.post(
    "/brands",
    response_model=schemas.BrandRead,
    status_code=201,
    tags=["brands"],
    responses={201: {"headers": ETAG_HEADER}},
)
def create_brand(
    body: schemas.BrandCreate, principal: PrincipalDep, session: SessionDep, response: Response
):
    principal.require("admin")
    brand = tenancy.create_brand(session, principal.agency_id, body, principal.actor)
    session.commit()
    _with_etag(response, brand)
    return brand


@router.get(
    "/brands/{brand_id}", response_model=schemas.BrandRead, tags=["brands"], responses=WITH_ETAG
)
def get_brand(
    brand_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
):
    brand = get_owned(session, Brand, brand_id, principal.agency_id)
    if tenancy.not_modified(if_none_match, brand):
        return _not_modified(brand)
    _with_etag(response, brand)
    return brand


@router.patch(
    "/brands/{brand_id}",
    response_model=schemas.BrandRead,
    tags=["brands"],
    responses={**WITH_ETAG, **CONDITIONAL},
)
def update_brand(
    brand_id: str,
    body: schemas.BrandUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
):
    principal.require(*WRITERS)
    brand = tenancy.update_brand(
        session, principal.agency_id, brand_id, body, principal.actor, if_match
    )
    session.commit()
    _with_etag(response, brand)
    return brand


@router.delete("/brands/{brand_id}", status_code=204, tags=["brands"], responses=CONDITIONAL)
def delete_brand(
    brand_id: str, principal: PrincipalDep, session: SessionDep, if_match: IfMatch = None
) -> Response:
    principal.require("admin")
    tenancy.delete_brand(session, principal.agency_id, brand_id, principal.actor, if_match)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- accounts -------------------------------------------------------------------------


@router.get("/accounts", response_model=schemas.AccountPage, tags=["accounts"])
def list_accounts(
    principal: PrincipalDep,
    session: SessionDep,
    brand_id: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
):
    return tenancy.list_accounts(session, principal.agency_id, brand_id, cursor, limit)


@router.post(
    "/accounts",
    response_model=schemas.AccountRead,
    status_code=201,
    tags=["accounts"],
    responses={201: {"headers": ETAG_HEADER}},
)
def create_account(
    body: schemas.AccountCreate,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    response: Response,
):
    principal.require(*WRITERS)
    account = tenancy.create_account(
        session,
        principal.agency_id,
        body,
        context.extras["networks"],
        context.extras["secrets"],
        principal.actor,
    )
    session.commit()
    _with_etag(response, account)
    return tenancy.account_read(account)


@router.get(
    "/accounts/{account_id}",
    response_model=schemas.AccountRead,
    tags=["accounts"],
    responses=WITH_ETAG,
)
def get_account(
    account_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
):
    account = get_owned(session, SocialAccount, account_id, principal.agency_id)
    if tenancy.not_modified(if_none_match, account):
        return _not_modified(account)
    _with_etag(response, account)
    return tenancy.account_read(account)


@router.patch(
    "/accounts/{account_id}",
    response_model=schemas.AccountRead,
    tags=["accounts"],
    responses={**WITH_ETAG, **CONDITIONAL},
)
def update_account(
    account_id: str,
    body: schemas.AccountUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    if_match: IfMatch = None,
):
    principal.require(*WRITERS)
    account = tenancy.update_account(
        session,
        principal.agency_id,
        account_id,
        body,
        context.extras["secrets"],
        principal.actor,
        if_match,
    )
    session.commit()
    _with_etag(response, account)
    return tenancy.account_read(account)


@router.delete("/accounts/{account_id}", status_code=204, tags=["accounts"], responses=CONDITIONAL)
def delete_account(
    account_id: str, principal: PrincipalDep, session: SessionDep, if_match: IfMatch = None
) -> Response:
    principal.require(*WRITERS)
    tenancy.delete_account(session, principal.agency_id, account_id, principal.actor, if_match)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- API keys (admin only) --------------------------------------------------------------


def _key_read(row: ApiKey) -> schemas.KeyRead:
    return schemas.KeyRead(
        id=row.id,
        name=row.name,
        role=row.role,
        prefix=row.prefix,
        active=row.revoked_at is None,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _key_created(row: ApiKey, clear: str) -> schemas.KeyCreated:
    return schemas.KeyCreated(**_key_read(row).model_dump(), key=clear)


def _audit_key(
    session: SessionDep,
    principal: PrincipalDep,
    action: audit.Action,
    row: ApiKey,
    before: dict[str, object] | None = None,
) -> None:
    audit.record(
        session,
        agency_id=row.agency_id,
        actor=principal.actor,
        action=action,
        resource_type="key",
        resource_id=row.id,
        before=before,
        after=audit.snapshot(row),
    )


@router.get("/keys", response_model=schemas.KeyPage, tags=["keys"])
def list_keys(
    principal: PrincipalDep, session: SessionDep, cursor: Cursor = None, limit: Limit = 50
):
    """Every key of the agency, revoked ones included; never the keys themselves."""
    principal.require("admin")
    rows, next_cursor = keys.list_keys(session, principal.agency_id, cursor, limit)
    return schemas.KeyPage(items=[_key_read(r) for r in rows], next_cursor=next_cursor)


@router.post("/keys", response_model=schemas.KeyCreated, status_code=201, tags=["keys"])
def create_key(body: schemas.KeyCreate, principal: PrincipalDep, session: SessionDep):
    """A new key with one role. The key is in this answer only; Tamtam stores its hash."""
    principal.require("admin")
    row, clear = keys.create_key(session, principal.agency_id, body.name, body.role)
    _audit_key(session, principal, "created", row)
    session.commit()
    return _key_created(row, clear)


@router.get("/keys/{key_id}", response_model=schemas.KeyRead, tags=["keys"])
def get_key(key_id: str, principal: PrincipalDep, session: SessionDep):
    principal.require("admin")
    return _key_read(get_owned(session, ApiKey, key_id, principal.agency_id))


@router.post(
    "/keys/{key_id}/rotate", response_model=schemas.KeyCreated, status_code=201, tags=["keys"]
)
def rotate_key(key_id: str, principal: PrincipalDep, session: SessionDep):
    """Replace a key: a new one with the same name and role (shown once); the old one is
    revoked at once."""
    principal.require("admin")
    row = get_owned(session, ApiKey, key_id, principal.agency_id)
    if row.revoked_at is not None:
        raise Problem(409, "this key is revoked; create a new one instead", kind="key-revoked")
    before = audit.snapshot(row)
    new_row, clear = keys.rotate(session, row)
    _audit_key(session, principal, "revoked", row, before)
    audit.record(
        session,
        agency_id=row.agency_id,
        actor=principal.actor,
        action="rotated",
        resource_type="key",
        resource_id=new_row.id,
        before={"replaces": row.id},
        after=audit.snapshot(new_row),
    )
    session.commit()
    return _key_created(new_row, clear)


@router.delete("/keys/{key_id}", status_code=204, tags=["keys"])
def revoke_key(key_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    """Revoke a key: it stops working at once. The agency's last admin key cannot be revoked."""
    principal.require("admin")
    row = get_owned(session, ApiKey, key_id, principal.agency_id)
    if row.revoked_at is None:
        if row.role == "admin" and keys.active_admin_keys(session, principal.agency_id) <= 1:
            raise Problem(
                409,
                "this is the agency's last admin key; create another admin key first",
                kind="last-admin-key",
            )
        before = audit.snapshot(row)
        keys.revoke(row)
        session.flush()
        _audit_key(session, principal, "revoked", row, before)
        session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- audit log ----------------------------------------------------------------------------


@router.get("/audit", response_model=schemas.AuditPage, tags=["audit"])
def list_audit(
    principal: PrincipalDep,
    session: SessionDep,
    resource_type: Literal["brand", "account", "key", "webhook"] | None = None,
    resource_id: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
):
    """Who changed which brand, account, key or webhook, and how (newest first; admin only)."""
    principal.require("admin")
    rows, next_cursor = audit.list_entries(
        session, principal.agency_id, resource_type, resource_id, cursor, limit
    )
    return schemas.AuditPage(
        items=[schemas.AuditEntryRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


router.include_router(webhooks_api.router)


@router.get("/status", response_model=schemas.StatusRead, tags=["status"])
def system_status(principal: PrincipalDep, context: ContextDep):
    """Readiness of every service (Kafka and database reachable, consumer running)."""
    services = [
        schemas.ServiceStatus(service="api", ready=_all_ok(c := context.readiness()), checks=c)
    ]
    with httpx.Client(timeout=2.0) as client:
        for name in SERVICES:
            if name == "api":
                continue
            try:
                answer = client.get(f"{context.settings.service_url(name)}/readyz")
                checks = answer.json().get("checks", {})
                services.append(
                    schemas.ServiceStatus(
                        service=name, ready=answer.status_code == 200, checks=checks
                    )
                )
            except (httpx.HTTPError, ValueError) as error:
                services.append(
                    schemas.ServiceStatus(
                        service=name, ready=False, error=f"{type(error).__name__}: unreachable"
                    )
                )
    return schemas.StatusRead(ready=all(s.ready for s in services), services=services)


def _all_ok(checks: dict[str, str]) -> bool:
    return all(value == "ok" for value in checks.values())
