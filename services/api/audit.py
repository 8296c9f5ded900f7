"""The api service's audit log: every change to a brand, an account, an API key or a webhook
subscription, with who made it, when, and the resource before and after (never a secret:
credentials, key hashes and webhook secrets are left out by `snapshot`).

Entries are written in the same transaction as the change, so a change without its entry
(or an entry without its change) cannot be committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Base, TenantOwned, new_id, tenant_select, utcnow
from shared.pagination import page_of, paginate

ResourceType = Literal["brand", "account", "key", "webhook"]
Action = Literal["created", "updated", "deleted", "rotated", "revoked"]

# Columns that are secret, or derived from a secret, in any audited row.
SECRET_FIELDS = frozenset({"credentials_encrypted", "key_hash", "secret_encrypted"})


class AuditEntry(TenantOwned, Base):
    __tablename__ = "api_audit_entries"
    __table_args__ = (
        Index("ix_api_audit_entries_resource", "agency_id", "resource_type", "resource_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agency_id: Mapped[str] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    resource_type: Mapped[str] = mapped_column(String(20))
    resource_id: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def snapshot(row: Any) -> dict[str, Any]:
    """The row's columns as JSON, secrets replaced by whether they are set."""
    state: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if column.key in SECRET_FIELDS:
            state[f"has_{column.key.removesuffix('_encrypted').removesuffix('_hash')}"] = (
                value is not None
            )
        else:
            state[column.key] = _plain(value)
    return state


def record(
    session: Session,
    *,
    agency_id: str,
    actor: str,
    action: Action,
    resource_type: ResourceType,
    resource_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        agency_id=agency_id,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session,
    agency_id: str,
    resource_type: str | None,
    resource_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEntry], str | None]:
    query = tenant_select(AuditEntry, agency_id)
    if resource_type:
        query = query.where(AuditEntry.resource_type == resource_type)
    if resource_id:
        query = query.where(AuditEntry.resource_id == resource_id)
    return page_of(list(session.scalars(paginate(query, AuditEntry, cursor, limit))), limit)
