from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shared.config import Settings
from shared.db import make_engine, make_session_factory, transaction
from shared.migrate import upgrade

from services.api.keys import create_agency
from services.api.main import create_app


@pytest.fixture
def api_settings(kafka_settings: Settings) -> Settings:
    upgrade(kafka_settings.database_url)
    return kafka_settings


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as client:
        yield client


def _new_agency(settings: Settings, name: str) -> str:
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine)) as session:
        _, key = create_agency(session, name)
    engine.dispose()
    return key


@pytest.fixture
def agency_a(api_settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {_new_agency(api_settings, 'Agence A')}"}


@pytest.fixture
def agency_b(api_settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {_new_agency(api_settings, 'Agency B')}"}
