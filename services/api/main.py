"""Wiring of the api service: the agency REST API, the web pages and the sandbox network.

    python -m services.api
"""

from __future__ import annotations

from fastapi import FastAPI

from plugins.networks import get_network_registry
from shared.config import Settings, get_settings
from shared.crypto import SecretBox
from shared.wiring import build_app, build_context, serve

from services.api import api
from services.api.handlers import HANDLERS

DESCRIPTION = """Tamtam's agency API: brands, social accounts, briefs, review and publishing.
Authenticate with `Authorization: Bearer <API key>`. Errors are RFC 9457 problem details."""


def create_app(settings: Settings) -> FastAPI:
    context = build_context("api", settings)
    context.extras["networks"] = get_network_registry(allow=settings.plugin_allow_list)
    context.extras["secrets"] = SecretBox.from_settings(settings)
    return build_app(
        context, handlers=HANDLERS, routers=[api.router],
        title="Tamtam API", version="0.1.0", description=DESCRIPTION,
    )


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "api")


if __name__ == "__main__":
    main()
