"""Wiring of the publish service: the consumer (approved, due, paused/resumed, metrics) and
one scheduler loop that sends due posts to `tamtam.posts.due`.

    python -m services.publish
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI

from plugins.networks import get_network_registry
from services.publish.attempts import PublishDependencies, PublishPolicy
from services.publish.handlers import build_handlers
from services.publish.scheduler import claim_due_posts, reclaim_stale
from shared.config import Settings, get_settings
from shared.crypto import SecretBox
from shared.db import transaction, utcnow
from shared.wiring import ServiceContext, build_app, build_context, serve

log = logging.getLogger(__name__)

TICK_S = 1.0
BATCH = 500


def send_due_posts(context: ServiceContext, batch: int = BATCH) -> int:
    """One scheduler tick: claim due rows and stage their PostDue events in one transaction,
    then send the outbox. Returns how many posts were claimed."""
    with transaction(context.session_factory) as session:
        now = utcnow()
        events = claim_due_posts(session, now, batch) + reclaim_stale(session, now)
        context.publisher.stage(session, events)
    if events:
        context.publisher.flush_outbox()
    return len(events)


def scheduler_loop(context: ServiceContext, stop: threading.Event, tick_s: float = TICK_S) -> None:
    while not stop.is_set():
        try:
            claimed = send_due_posts(context)
        except Exception:  # database or broker away: log, wait, try again (the outbox keeps events)
            log.exception("scheduler tick failed")
            claimed = 0
        if claimed < BATCH:
            stop.wait(tick_s)


def create_app(settings: Settings, policy: PublishPolicy | None = None,
               tick_s: float = TICK_S) -> FastAPI:
    context = build_context("publish", settings)
    deps = PublishDependencies(
        networks=get_network_registry(allow=settings.plugin_allow_list),
        secrets=SecretBox.from_settings(settings), stage=context.publisher.stage,
        policy=policy or PublishPolicy(),
    )
    context.extras["publish"] = deps

    def scheduler(context: ServiceContext, stop: threading.Event) -> None:
        scheduler_loop(context, stop, tick_s)

    return build_app(context, handlers=build_handlers(deps), background=[scheduler],
                     title="Tamtam publish service")


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "publish")


if __name__ == "__main__":
    main()
