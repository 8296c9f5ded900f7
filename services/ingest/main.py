"""Wiring of the ingest service.

    python -m services.ingest
"""

from __future__ import annotations

from fastapi import FastAPI

from shared.config import Settings, get_settings
from shared.wiring import build_app, build_context, serve

from services.ingest.handlers import HANDLERS


def create_app(settings: Settings) -> FastAPI:
    context = build_context("ingest", settings)
    return build_app(context, handlers=HANDLERS, title="Tamtam ingest service")


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "ingest")


if __name__ == "__main__":
    main()
