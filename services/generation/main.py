"""Wiring of the generation service.

    python -m services.generation
"""

from __future__ import annotations

from fastapi import FastAPI

from shared.config import Settings, get_settings
from shared.wiring import build_app, build_context, serve

from services.generation.handlers import HANDLERS


def create_app(settings: Settings) -> FastAPI:
    context = build_context("generation", settings)
    return build_app(context, handlers=HANDLERS, title="Tamtam generation service")


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "generation")


if __name__ == "__main__":
    main()
