"""Routes of the agency REST API for brands, social accounts and the system's status.
Thin: each route checks the caller, calls a function in `tenancy`, and commits."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Query, Response, status

from shared.config import SERVICES
from shared.db import get_owned
from shared.models import Brand, SocialAccount

from services.api import schemas, tenancy
from services.api.deps import ContextDep, PrincipalDep, SessionDep

router = APIRouter(prefix="/v1")
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
WRITERS = ("admin", "editor")


@router.get("/brands", response_model=schemas.BrandPage, tags=["brands"])
def list_brands(principal: PrincipalDep, session: SessionDep, cursor: Cursor = None, limit: Limit = 50):
    return tenancy.list_brands(session, principal.agency_id, cursor, limit)


@router.post("/brands", response_model=schemas.BrandRead, status_code=201, tags=["brands"])
def create_brand(body: schemas.BrandCreate, principal: PrincipalDep, session: SessionDep):
    principal.require("admin")
    brand = tenancy.create_brand(session, principal.agency_id, body)
    session.commit()
    return brand


@router.get("/brands/{brand_id}", response_model=schemas.BrandRead, tags=["brands"])
def get_brand(brand_id: str, principal: PrincipalDep, session: SessionDep):
    return get_owned(session, Brand, brand_id, principal.agency_id)


@router.patch("/brands/{brand_id}", response_model=schemas.BrandRead, tags=["brands"])
def update_brand(brand_id: str, body: schemas.BrandUpdate, principal: PrincipalDep, session: SessionDep):
    principal.require(*WRITERS)
    brand = tenancy.update_brand(session, principal.agency_id, brand_id, body)
    session.commit()
    return brand


@router.delete("/brands/{brand_id}", status_code=204, tags=["brands"])
def delete_brand(brand_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    principal.require("admin")
    session.delete(get_owned(session, Brand, brand_id, principal.agency_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/accounts", response_model=schemas.AccountPage, tags=["accounts"])
def list_accounts(
    principal: PrincipalDep, session: SessionDep, brand_id: str | None = None,
    cursor: Cursor = None, limit: Limit = 50,
):
    return tenancy.list_accounts(session, principal.agency_id, brand_id, cursor, limit)


@router.post("/accounts", response_model=schemas.AccountRead, status_code=201, tags=["accounts"])
def create_account(
    body: schemas.AccountCreate, principal: PrincipalDep, session: SessionDep, context: ContextDep
):
    principal.require(*WRITERS)
    account = tenancy.create_account(
        session, principal.agency_id, body, context.extras["networks"], context.extras["secrets"]
    )
    session.commit()
    return tenancy.account_read(account)


@router.get("/accounts/{account_id}", response_model=schemas.AccountRead, tags=["accounts"])
def get_account(account_id: str, principal: PrincipalDep, session: SessionDep):
    return tenancy.account_read(get_owned(session, SocialAccount, account_id, principal.agency_id))


@router.patch("/accounts/{account_id}", response_model=schemas.AccountRead, tags=["accounts"])
def update_account(
    account_id: str, body: schemas.AccountUpdate, principal: PrincipalDep, session: SessionDep,
    context: ContextDep,
):
    principal.require(*WRITERS)
    account = tenancy.update_account(
        session, principal.agency_id, account_id, body, context.extras["secrets"]
    )
    session.commit()
    return tenancy.account_read(account)


@router.delete("/accounts/{account_id}", status_code=204, tags=["accounts"])
def delete_account(account_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    principal.require(*WRITERS)
    session.delete(get_owned(session, SocialAccount, account_id, principal.agency_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/status", response_model=schemas.StatusRead, tags=["status"])
def system_status(principal: PrincipalDep, context: ContextDep):
    """Readiness of every service (Kafka and database reachable, consumer running)."""
    services = [schemas.ServiceStatus(service="api", ready=_all_ok(c := context.readiness()), checks=c)]
    with httpx.Client(timeout=2.0) as client:
        for name in SERVICES:
            if name == "api":
                continue
            try:
                answer = client.get(f"{context.settings.service_url(name)}/readyz")
                checks = answer.json().get("checks", {})
                services.append(schemas.ServiceStatus(
                    service=name, ready=answer.status_code == 200, checks=checks))
            except (httpx.HTTPError, ValueError) as error:
                services.append(schemas.ServiceStatus(
                    service=name, ready=False, error=f"{type(error).__name__}: unreachable"))
    return schemas.StatusRead(ready=all(s.ready for s in services), services=services)


def _all_ok(checks: dict[str, str]) -> bool:
    return all(value == "ok" for value in checks.values())
