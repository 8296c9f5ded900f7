from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.api.keys import create_agency
from services.api.main import create_app
from shared.config import Settings
from shared.db import Base, import_all_models, make_engine, make_session_factory, transaction
from shared.migrate import upgrade


def create_unmigrated_tables(database_url: str) -> None:
    """Tables whose Alembic revision is not written yet (the lead generates one for all new
    tables); a no-op once the migrations have them."""
    import services.api.main  # noqa: F401  (imports every api model module)

    import_all_models()
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    engine.dispose()


@pytest.fixture
def api_settings(kafka_settings: Settings) -> Settings:
    upgrade(kafka_settings.database_url)
    create_unmigrated_tables(kafka_settings.database_url)
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


class LiveServer:
    """The api app served by a real uvicorn in a thread (HTTP clients, the CLI, threads)."""

    def __init__(self, app, port: int) -> None:
        import threading

        import uvicorn

        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        import httpx

        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the api server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


@pytest.fixture
def live_api(api_settings: Settings) -> Iterator[LiveServer]:
    from tests.conftest import free_port

    with LiveServer(create_app(api_settings), free_port()) as server:
        yield server
