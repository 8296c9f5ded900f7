"""Network plugins: the plugin manager and the registry of adapters.

`get_network_registry()` adds the hookspecs, registers the built-in adapters in
`DEFAULT_PLUGINS`, loads third-party ones from the `tamtam.networks` entry-point group
(all of them, or only those named in `TAMTAM_LOAD_PLUGINS` when it is set), checks that
no plugin implements an unknown hook, and collects the adapters they register.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx
import pluggy

from plugins.manager import build_manager
from plugins.networks import hookspecs
from plugins.networks.base import NetworkAdapter

ENTRY_POINT_GROUP = "tamtam.networks"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.networks.sandbox",
    "plugins.networks.mastodon",
    "plugins.networks.bluesky",
    "plugins.networks.x",
    "plugins.networks.linkedin",
    "plugins.networks.facebook",
    "plugins.networks.instagram",
    "plugins.networks.threads",
    "plugins.networks.telegram",
    "plugins.networks.discord",
)


class UnknownNetwork(LookupError):
    pass


class NetworkRegistry:
    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self._adapters: dict[str, type[NetworkAdapter]] = {}
        manager.hook.register_networks(register=self._register)

    def _register(self, adapter: type) -> None:
        if not (isinstance(adapter, type) and issubclass(adapter, NetworkAdapter)):
            raise TypeError(f"{adapter!r} is not a NetworkAdapter subclass")
        if adapter.name in self._adapters and self._adapters[adapter.name] is not adapter:
            raise ValueError(f"two plugins register the network {adapter.name!r}")
        self._adapters[adapter.name] = adapter

    def names(self) -> list[str]:
        return sorted(self._adapters)

    def adapter_class(self, name: str) -> type[NetworkAdapter]:
        try:
            return self._adapters[name]
        except KeyError:
            raise UnknownNetwork(f"unknown network {name!r}; known: {', '.join(self.names())}") from None

    def create(self, name: str, http: httpx.Client | None = None) -> NetworkAdapter:
        return self.adapter_class(name)(http=http)

    def plugin_of(self, name: str) -> str:
        module = self.adapter_class(name).__module__
        return "builtin" if module.startswith("plugins.networks.") else module


def get_plugin_manager(
    load_entrypoints: bool = True, allow: Iterable[str] | None = None
) -> pluggy.PluginManager:
    """`allow` (from `TAMTAM_LOAD_PLUGINS`) limits which entry points load; None loads all."""
    return build_manager(ENTRY_POINT_GROUP, hookspecs, DEFAULT_PLUGINS, load_entrypoints, allow)


def get_network_registry(
    load_entrypoints: bool = True, allow: Iterable[str] | None = None
) -> NetworkRegistry:
    return NetworkRegistry(get_plugin_manager(load_entrypoints, allow))
