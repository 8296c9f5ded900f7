"""Wiring of the publish service.

    python -m services.publish
"""

from __future__ import annotations

from fastapi import FastAPI

from shared.config import Settings, get_settings
from shared.wiring import build_app, build_context, serve

from services.publish.handlers import HANDLERS


def create_app(settings: Settings) -> FastAPI:
    context = build_context("publish", settings)
    return build_app(context, handlers=HANDLERS, title="Tamtam publish service")


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "publish")


if __name__ == "__main__":
    main()
