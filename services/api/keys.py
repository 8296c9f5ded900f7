"""API keys: `tt_<prefix>_<secret>`, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import tenant_select, utcnow
from shared.models import Agency, ApiKey
from shared.pagination import page_of, paginate

ROLES = ("admin", "editor", "approver", "viewer")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return f"tt_{prefix}_{secrets.token_urlsafe(32)}", prefix


def create_key(
    session: Session, agency_id: str, name: str, role: str = "admin", key: str | None = None
) -> tuple[ApiKey, str]:
    """Store a new key (or the given one) and return it in clear, once."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if key is None:
        key, prefix = generate_key()
    else:
        prefix = key.split("_")[1] if key.startswith("tt_") and key.count("_") >= 2 else key[:8]
    row = ApiKey(
        agency_id=agency_id, name=name, role=role, prefix=prefix[:16], key_hash=hash_key(key)
    )
    session.add(row)
    session.flush()
    return row, key


def create_agency(session: Session, name: str, key: str | None = None) -> tuple[Agency, str]:
    """A new agency and its first admin key."""
    agency = Agency(name=name)
    session.add(agency)
    session.flush()
    _, clear = create_key(session, agency.id, "first admin key", "admin", key)
    return agency, clear


def authenticate(session: Session, key: str) -> ApiKey | None:
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke(row: ApiKey) -> None:
    row.revoked_at = utcnow()


def list_keys(
    session: Session, agency_id: str, cursor: str | None, limit: int
) -> tuple[list[ApiKey], str | None]:
    query = tenant_select(ApiKey, agency_id)
    return page_of(list(session.scalars(paginate(query, ApiKey, cursor, limit))), limit)


def active_admin_keys(session: Session, agency_id: str) -> int:
    return len(
        session.scalars(
            tenant_select(ApiKey, agency_id).where(
                ApiKey.role == "admin", ApiKey.revoked_at.is_(None)
            )
        ).all()
    )


def rotate(session: Session, row: ApiKey) -> tuple[ApiKey, str]:
    """A new key with the same name and role; the old one stops working at once."""
    new_row, clear = create_key(session, row.agency_id, row.name, row.role)
    revoke(row)
    session.flush()
    return new_row, clear
