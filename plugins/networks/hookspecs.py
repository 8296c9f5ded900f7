"""Hooks a network plugin implements. Each built-in adapter and each third-party package
(entry-point group `tamtam.networks`) goes through the same hooks."""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("tamtam.networks")
hookimpl = pluggy.HookimplMarker("tamtam.networks")


@hookspec
def register_networks(register: Callable[[type], None]) -> None:
    """Called once when the plugin manager starts.

    :param register: call it with each `NetworkAdapter` subclass the plugin provides;
        the class's `name` must be unique across all plugins.
    """
