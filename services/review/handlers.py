"""Handlers of the review service: plain functions (event, session) -> list[new events]."""

from __future__ import annotations

from shared.runner import Handler

HANDLERS: dict[str, Handler] = {}
