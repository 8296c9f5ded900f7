"""One Alembic history: it matches the models, and upgrades and downgrades on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from shared.db import Base, import_all_models, make_engine
from shared.migrate import downgrade, upgrade


def _model_drift(url: str) -> list:
    import_all_models()
    engine = make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    return names


def test_migrations_match_the_models_on_sqlite(sqlite_url: str):
    upgrade(sqlite_url)
    assert _model_drift(sqlite_url) == []


def test_upgrade_and_downgrade_on_sqlite(sqlite_url: str):
    import_all_models()
    upgrade(sqlite_url)
    assert _tables(sqlite_url) == set(Base.metadata.tables)
    downgrade(sqlite_url, "base")
    assert _tables(sqlite_url) == set()
    upgrade(sqlite_url)
    assert _tables(sqlite_url) == set(Base.metadata.tables)


@pytest.fixture
def fresh_postgres(postgres_url: str):
    """A database of its own on the test PostgreSQL server, dropped afterwards."""
    name = f"tamtam_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_upgrade_downgrade_and_no_drift_on_postgresql(fresh_postgres: str):
    import_all_models()
    upgrade(fresh_postgres)
    assert _tables(fresh_postgres) == set(Base.metadata.tables)
    assert _model_drift(fresh_postgres) == []
    downgrade(fresh_postgres, "base")
    assert _tables(fresh_postgres) == set()
    upgrade(fresh_postgres)
    assert _tables(fresh_postgres) == set(Base.metadata.tables)
