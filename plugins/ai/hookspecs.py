"""Hooks an AI provider plugin implements. Each built-in provider and each third-party package
(entry-point group `tamtam.ai`) goes through the same hooks."""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("tamtam.ai")
hookimpl = pluggy.HookimplMarker("tamtam.ai")


@hookspec
def register_providers(register: Callable[[type], None]) -> None:
    """Called once when the provider manager starts.

    :param register: call it with each `Provider` subclass the plugin provides (see
        `plugins/ai/base.py`); the class's `name` must be unique across all plugins.
    """
