"""Wiring of the api service: the agency REST API, the web pages and the sandbox network.

    python -m services.api
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI

from plugins.networks import get_network_registry
from services.api import api
from services.api.handlers import HANDLERS
from services.api.idempotency import IdempotencyMiddleware, purge_idempotency_keys
from services.api.ratelimit import RateLimitMiddleware
from services.api.schemas import document_conventions
from services.api.webhooks.delivery import deliver_webhooks
from shared.config import Settings, get_settings
from shared.crypto import SecretBox
from shared.wiring import build_app, build_context, serve

# The api process hosts the HTTP routes of every service: each router lives in its own
# service's package (`services/<name>/api.py`) and touches only that service's tables.
ROUTER_MODULES = (
    "services.api.networks",
    "services.api.sandbox",
    "services.api.web",
    "services.generation.api",
    "services.review.api",
    "services.publish.api",
    "services.ingest.api",
)


def service_routers(settings: Settings) -> list[APIRouter]:
    routers = [api.router]
    for name in ROUTER_MODULES:
        if name == "services.api.sandbox" and not settings.sandbox:
            continue
        routers.append(importlib.import_module(name).router)
    return routers

DESCRIPTION = """Tamtam's agency API: brands, social accounts, briefs, review and publishing.
Authenticate with `Authorization: Bearer <API key>`. Errors are RFC 9457 problem details."""


def create_app(settings: Settings) -> FastAPI:
    context = build_context("api", settings)
    context.extras["networks"] = get_network_registry(allow=settings.plugin_allow_list)
    context.extras["secrets"] = SecretBox.from_settings(settings)
    app = build_app(
        context, handlers=HANDLERS, routers=service_routers(settings),
        background=[deliver_webhooks, purge_idempotency_keys],
        title="Tamtam API", version="0.1.0", description=DESCRIPTION,
    )
    app.add_middleware(IdempotencyMiddleware)  # inside the rate limit: a 429 reserves no key
    app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute,
                       burst=settings.rate_limit_burst)
    document_conventions(app)
    return app


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "api")


if __name__ == "__main__":
    main()
