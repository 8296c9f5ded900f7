"""Storage of the sandbox network's server (`services/api/sandbox.py`).

These tables belong to the simulated network, not to any tenant: they play the part of a
real network's own database, so they carry no `agency_id`. An account on the sandbox is
just a handle; it exists as soon as something is published under it.

- `sandbox_posts`: what was published, once per (handle, idempotency key).
- `sandbox_faults`: the failure the server simulates on its next requests, for one handle
  or for every handle (`GLOBAL_FAULT`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, new_id, utcnow

# Fault modes.
NO_FAULT = "none"  # on one handle: shields it from a global fault
RATE_LIMIT = "rate_limit"  # 429 with Retry-After: wait_s
SERVER_ERROR = "server_error"  # 500
TIMEOUT = "timeout"  # sleep wait_s, then answer 504 without storing anything
ACCEPT_THEN_TIMEOUT = "accept_then_timeout"  # store the post, then sleep wait_s before answering
UNAUTHORIZED = "unauthorized"  # 401, as when a token was revoked
REJECTED = "rejected"  # 422, as when the network refuses the content
FAULT_MODES = (
    NO_FAULT, RATE_LIMIT, SERVER_ERROR, TIMEOUT, ACCEPT_THEN_TIMEOUT, UNAUTHORIZED, REJECTED,
)

# Which requests a fault applies to.
APPLIES_TO_PUBLISH = "publish"
APPLIES_TO_READ = "read"
APPLIES_TO_ALL = "all"
FAULT_SCOPES = (APPLIES_TO_PUBLISH, APPLIES_TO_READ, APPLIES_TO_ALL)

GLOBAL_FAULT = "*"  # the `handle` of a fault that applies to every handle
UNTIL_CLEARED = -1


class SandboxPost(Base):
    """One published post (a part of a thread is a post replying to the previous part)."""

    __tablename__ = "sandbox_posts"
    __table_args__ = (UniqueConstraint("handle", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    handle: Mapped[str] = mapped_column(String(200), index=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reply_to: Mapped[str | None] = mapped_column(String(100), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    content_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    # The author's timezone: mentions and engagement follow its daytime and evening.
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SandboxFault(Base):
    """A failure the server simulates on the next `remaining` matching requests."""

    __tablename__ = "sandbox_faults"

    handle: Mapped[str] = mapped_column(String(200), primary_key=True)  # or GLOBAL_FAULT
    mode: Mapped[str] = mapped_column(String(30))
    applies_to: Mapped[str] = mapped_column(String(20), default=APPLIES_TO_PUBLISH)
    remaining: Mapped[int] = mapped_column(Integer, default=UNTIL_CLEARED)  # -1: until cleared
    # Retry-After of rate_limit; how long timeout and accept_then_timeout sleep.
    wait_s: Mapped[float] = mapped_column(Float, default=30.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
