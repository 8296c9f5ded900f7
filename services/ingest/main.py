"""Wiring of the ingest service: the consumer (posts.approved, posts.published, our own
mentions.received), the collector loop (polling, feeds) and the health endpoints.
The ingest HTTP routes (webhooks, signals, watch-lists, insights) are served by the api
process from services/ingest/api.py.

    python -m services.ingest
"""

from __future__ import annotations

from fastapi import FastAPI

from plugins.networks import get_network_registry
from services.ingest.collector import collect
from services.ingest.handlers import HANDLERS
from shared.config import Settings, get_settings
from shared.crypto import SecretBox
from shared.wiring import build_app, build_context, serve


def create_app(settings: Settings) -> FastAPI:
    context = build_context("ingest", settings)
    context.extras["networks"] = get_network_registry(allow=settings.plugin_allow_list)
    context.extras["secrets"] = SecretBox.from_settings(settings)
    return build_app(context, handlers=HANDLERS, background=[collect],
                     title="Tamtam ingest service")


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "ingest")


if __name__ == "__main__":
    main()
