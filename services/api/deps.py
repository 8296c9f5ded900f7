"""FastAPI dependencies shared by every route of the api service, as `Annotated` aliases."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from services.api.keys import authenticate
from shared.problems import Problem
from shared.wiring import ServiceContext, context_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key (or a signed-in user) of one agency, with one role."""

    agency_id: str
    role: str
    actor: str  # "key:<id>" or "user:<id>", written in audit entries

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Problem(403, f"the role {self.role!r} cannot do this; it needs one of: {', '.join(roles)}",
                          kind="forbidden-role")


def get_context(request: Request) -> ServiceContext:
    return context_of(request)


ContextDep = Annotated[ServiceContext, Depends(get_context)]


def get_session(context: ContextDep) -> Iterator[Session]:
    """One session per request; routes commit what they change."""
    with context.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(request: Request, session: SessionDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "send an API key as 'Authorization: Bearer <key>'",
                      kind="unauthorized", headers={"WWW-Authenticate": "Bearer"})
    key = authenticate(session, token.strip())
    if key is None:
        raise Problem(401, "this API key is unknown or revoked", kind="unauthorized",
                      headers={"WWW-Authenticate": "Bearer"})
    return Principal(agency_id=key.agency_id, role=key.role, actor=f"key:{key.id}")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def commit_and_publish(session: Session, context: ServiceContext) -> None:
    """Commit the request's changes (and the events staged with `context.publisher.stage`),
    then send those events. If Kafka is away the events stay in the outbox and are sent by
    the next flush; the request has still succeeded."""
    session.commit()
    try:
        context.publisher.flush_outbox()
    except Exception:  # the outbox keeps them; the api's consumer loop flushes again
        log.warning("events left in the outbox for a later flush")
