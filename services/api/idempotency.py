"""`Idempotency-Key` on every POST of the agency API (/v1/...), as a pure ASGI middleware.

For a POST with the header and a valid API key:

1. The key is *reserved* before the route runs: a row (agency, key) is inserted and
   committed; the unique constraint makes exactly one of several concurrent requests win,
   on SQLite and PostgreSQL alike, and across api replicas.
2. The winner runs the route; its response (status, headers, body) is stored with the row.
   A 5xx, a 429 or an exception releases the reservation instead, so the client can retry.
3. A request that loses the race, or comes later, compares a hash of its method, path, query
   and body with the stored one: a different request is a 422 problem
   (`idempotency-key-reused`); the same one gets the stored response back, with
   `Idempotent-Replayed: true`. If the first is still running, it waits up to
   `WAIT_S` seconds for it, then answers 409 (`idempotency-in-progress`, `Retry-After: 1`).

Keys are scoped to the agency and kept for `TTL` (24 h); an expired key is reused as new.
Requests without the header, or without a valid API key, pass through untouched (the
route answers 401 itself). The sandbox network (/sandbox) handles its own header.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.keys import authenticate
from shared.db import Base, TenantOwned, new_id, utcnow
from shared.problems import PROBLEM_TYPES, TITLES

TTL = timedelta(hours=24)
WAIT_S = 10.0
POLL_S = 0.05
MAX_KEY_LENGTH = 255
IN_PROGRESS, DONE = "in_progress", "done"
NOT_STORED = {429}  # 5xx are not stored either


class IdempotencyRecord(TenantOwned, Base):
    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("agency_id", "key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agency_id: Mapped[str] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=IN_PROGRESS)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    headers: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --- the store (synchronous; the middleware calls it in a worker thread) ----------------------


def agency_of(session_factory: sessionmaker[Session], authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with session_factory() as session:
        key = authenticate(session, token.strip())
        return key.agency_id if key is not None else None


def reserve(
    session_factory: sessionmaker[Session], agency_id: str, key: str, fingerprint: str
) -> tuple[str, IdempotencyRecord | None]:
    """('reserved', None) if we own the key now, else ('taken', the existing record)."""
    for _ in range(2):
        with session_factory() as session:
            session.add(IdempotencyRecord(agency_id=agency_id, key=key, fingerprint=fingerprint))
            try:
                session.commit()
                return "reserved", None
            except IntegrityError:
                session.rollback()
            existing = _find(session, agency_id, key)
            if existing is None:  # released between our insert and our read: try again
                continue
            if existing.created_at < utcnow() - TTL:
                session.execute(
                    delete(IdempotencyRecord).where(IdempotencyRecord.id == existing.id)
                )
                session.commit()
                continue
            return "taken", existing
    return "busy", None  # the key keeps appearing and vanishing: let the client retry


def _find(session: Session, agency_id: str, key: str) -> IdempotencyRecord | None:
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.agency_id == agency_id, IdempotencyRecord.key == key
        )
    ).first()


def _wait_for(
    session_factory: sessionmaker[Session], agency_id: str, key: str, wait_s: float
) -> IdempotencyRecord | None:
    """The record once it is done (or as it is when `wait_s` ran out, or None if released)."""
    deadline = time.monotonic() + wait_s
    while True:
        with session_factory() as session:
            record = _find(session, agency_id, key)
        if record is None or record.state == DONE or time.monotonic() >= deadline:
            return record
        time.sleep(POLL_S)


def complete(
    session_factory: sessionmaker[Session],
    agency_id: str,
    key: str,
    status: int,
    headers: list[list[str]],
    body: bytes,
) -> None:
    with session_factory() as session:
        record = _find(session, agency_id, key)
        if record is not None:
            record.state, record.status_code = DONE, status
            record.headers, record.body = headers, body
            session.commit()


def release(session_factory: sessionmaker[Session], agency_id: str, key: str) -> None:
    with session_factory() as session:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.agency_id == agency_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.state == IN_PROGRESS,
            )
        )
        session.commit()


def purge_expired(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        result = session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - TTL)
        )
        session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge_idempotency_keys(context: Any, stop: threading.Event) -> None:
    """Background loop of the api process: drop expired keys once an hour."""
    while not stop.wait(3600):
        try:
            purge_expired(context.session_factory)
        except Exception:  # retried next hour
            pass


# --- the middleware -----------------------------------------------------------------------


def fingerprint_of(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode()):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


def problem_message(
    path: str, status: int, kind: str, detail: str, extra_headers: dict[str, str] | None = None
) -> tuple[Message, Message]:
    import json

    body = json.dumps(
        {
            "type": PROBLEM_TYPES + kind,
            "title": TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "instance": path,
        }
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra_headers or {}).items()]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


def _in_progress(path: str) -> tuple[Message, Message]:
    return problem_message(
        path,
        409,
        "idempotency-in-progress",
        "a request with this Idempotency-Key is still running; retry shortly",
        {"Retry-After": "1"},
    )


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, prefix: str = "/v1/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            await _send_all(
                send,
                problem_message(
                    scope["path"],
                    400,
                    "bad-idempotency-key",
                    f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                ),
            )
            return
        session_factory = scope["app"].state.context.session_factory
        agency_id = await run_in_threadpool(
            agency_of, session_factory, headers.get("authorization", "")
        )
        body, more = await _read_body(receive)
        replay_receive = _replaying(body, more, receive)
        if agency_id is None:
            await self.app(scope, replay_receive, send)
            return
        fingerprint = fingerprint_of(scope, body)
        outcome, record = await run_in_threadpool(
            reserve, session_factory, agency_id, key, fingerprint
        )
        if outcome == "taken" and record is not None:
            await self._answer_taken(
                scope, send, session_factory, agency_id, key, fingerprint, record
            )
            return
        if outcome == "busy":
            await _send_all(send, _in_progress(scope["path"]))
            return
        await self._run_and_store(scope, replay_receive, send, session_factory, agency_id, key)

    async def _answer_taken(
        self,
        scope: Scope,
        send: Send,
        session_factory: sessionmaker[Session],
        agency_id: str,
        key: str,
        fingerprint: str,
        record: IdempotencyRecord,
    ) -> None:
        path = scope["path"]
        if record.fingerprint != fingerprint:
            await _send_all(
                send,
                problem_message(
                    path,
                    422,
                    "idempotency-key-reused",
                    "this Idempotency-Key was already used for another request (another body, "
                    "method or path); use a new key for a new request",
                ),
            )
            return
        if record.state != DONE:
            waited = await run_in_threadpool(_wait_for, session_factory, agency_id, key, WAIT_S)
            if waited is None or waited.state != DONE:
                await _send_all(send, _in_progress(path))
                return
            record = waited
        stored = [(k.encode(), v.encode()) for k, v in record.headers]
        stored.append((b"idempotent-replayed", b"true"))
        await _send_all(
            send,
            (
                {"type": "http.response.start", "status": record.status_code, "headers": stored},
                {"type": "http.response.body", "body": record.body},
            ),
        )

    async def _run_and_store(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        session_factory: sessionmaker[Session],
        agency_id: str,
        key: str,
    ) -> None:
        status = 500
        response_headers: list[list[str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = [
                    [k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await asyncio.shield(run_in_threadpool(release, session_factory, agency_id, key))
            raise
        if status >= 500 or status in NOT_STORED:
            await run_in_threadpool(release, session_factory, agency_id, key)
        else:
            await run_in_threadpool(
                complete,
                session_factory,
                agency_id,
                key,
                status,
                response_headers,
                b"".join(chunks),
            )


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole request body, and any non-body message read past it (a disconnect)."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), [message]
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), []


def _replaying(body: bytes, extra: list[Message], receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if extra:
            return extra.pop(0)
        return await receive()

    return replay


async def _send_all(send: Send, messages: tuple[Message, Message]) -> None:
    for message in messages:
        await send(message)
