"""Cursor pagination (keyset on created_at, id): stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_
from sqlalchemy.sql import Select

from shared.problems import Problem

T = TypeVar("T")


def encode_cursor(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(stamp), row_id
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "the cursor is not one this API returned", kind="bad-cursor") from None


def paginate(query: Select[Any], model: Any, cursor: str | None, limit: int) -> Select[Any]:
    """Newest first; `limit + 1` rows so the caller knows whether a next page exists."""
    if cursor:
        created_at, row_id = decode_cursor(cursor)
        query = query.where(
            or_(model.created_at < created_at, and_(model.created_at == created_at, model.id < row_id))
        )
    return query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)


def page_of(rows: list[T], limit: int) -> tuple[list[T], str | None]:
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)  # type: ignore[attr-defined]
