"""An event produced by this process is handled by a service running in another one."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from services.api.keys import create_agency
from shared.config import Settings
from shared.db import make_engine, make_session_factory, transaction
from shared.events import AccountDisconnected, new_event
from shared.migrate import upgrade
from shared.models import Brand, SocialAccount
from tests.conftest import free_port
from tests.support.kafka_tools import produce
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka


def test_the_api_service_process_marks_an_account_disconnected(kafka_settings: Settings, tmp_path):
    settings = kafka_settings.model_copy(update={"api_port": free_port()})
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        agency, _ = create_agency(session, "Agence")
        brand = Brand(agency_id=agency.id, name="Brand")
        session.add(brand)
        session.flush()
        account = SocialAccount(agency_id=agency.id, brand_id=brand.id, network="sandbox", handle="h")
        session.add(account)
        session.flush()
        ids = (agency.id, brand.id, account.id)

    service = ServiceProcess("api", settings, tmp_path / "api.log").start()
    try:
        produce(settings, [new_event(
            AccountDisconnected(brand_id=ids[1], account_id=ids[2], reason="token revoked by the user"),
            tenant=ids[0], source="publish")])
        deadline = time.monotonic() + 30
        status = "connected"
        while time.monotonic() < deadline and status == "connected":
            time.sleep(0.3)
            with factory() as session:
                row = session.scalars(select(SocialAccount).where(SocialAccount.id == ids[2])).one()
                status, reason = row.status, row.status_reason
        assert status == "disconnected"
        assert reason == "token revoked by the user"
    finally:
        code = service.stop()
        engine.dispose()
    # SIGTERM: uvicorn shuts down (the consumer finishes, commits and closes), then
    # re-raises the signal, so the exit status is the signal's.
    assert code in (0, -15)
    assert '"message": "service stopped"' in (tmp_path / "api.log").read_text()
