"""Database plumbing: the declarative base, engines, sessions and tenant-scoped queries.

SQLite (WAL) is the embedded default and PostgreSQL the production database; both go
through the same SQLAlchemy 2.0 models. Every tenant-owned row carries `agency_id`, and
reads of tenant-owned rows go through `tenant_select` / `get_owned`, so a query cannot
forget the tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, String, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class TenantOwned:
    """Mixin for rows that belong to one agency."""

    agency_id: Mapped[str] = mapped_column(String(32), index=True)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


M = TypeVar("M")


class NotFound(LookupError):
    """No such row for this tenant (the API answers 404, never 403)."""


def tenant_select(model: type[M], agency_id: str) -> Select[tuple[M]]:
    """`SELECT model WHERE agency_id = :agency_id`: the start of every tenant-owned read."""
    return select(model).where(model.agency_id == agency_id)  # type: ignore[attr-defined]


def get_owned(session: Session, model: type[M], row_id: str, agency_id: str) -> M:
    row = session.scalars(
        tenant_select(model, agency_id).where(model.id == row_id)  # type: ignore[attr-defined]
    ).first()
    if row is None:
        raise NotFound(f"{model.__name__.lower()} {row_id} not found")
    return row


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def import_all_models() -> None:
    """Import every module that defines tables, so `Base.metadata` knows them all."""
    import importlib

    for module in (
        "shared.models",
        "services.api.audit",
        "services.api.idempotency",
        "services.api.webhooks.models",
        "services.ingest.models",
        "services.generation.models",
        "services.review.models",
        "services.publish.models",
        "plugins.networks.sandbox_models",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
