"""Wiring of the review service.

    python -m services.review
"""

from __future__ import annotations

from fastapi import FastAPI

from services.review.handlers import HANDLERS
from shared.config import Settings, get_settings
from shared.wiring import build_app, build_context, serve


def create_app(settings: Settings) -> FastAPI:
    context = build_context("review", settings)
    return build_app(context, handlers=HANDLERS, title="Tamtam review service")


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "review")


if __name__ == "__main__":
    main()
