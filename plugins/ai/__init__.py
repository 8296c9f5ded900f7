"""AI provider plugins: the plugin manager and the registry of providers.

`get_provider_registry()` adds the hookspecs, registers the built-in providers in
`DEFAULT_PLUGINS`, loads third-party ones from the `tamtam.ai` entry-point group (all of
them, or only those named in `TAMTAM_LOAD_PLUGINS` when it is set), checks that no plugin
implements an unknown hook, and collects the provider classes they register.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import pluggy

from plugins.ai import hookspecs
from plugins.ai.base import PriceTable, Provider, ProviderConfig
from plugins.manager import build_manager

ENTRY_POINT_GROUP = "tamtam.ai"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.ai.local",
    "plugins.ai.openai",
    "plugins.ai.anthropic",
)


class UnknownProvider(LookupError):
    pass


class ProviderRegistry:
    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self._providers: dict[str, type[Provider]] = {}
        manager.hook.register_providers(register=self._register)

    def _register(self, provider: type) -> None:
        if not (isinstance(provider, type) and issubclass(provider, Provider)):
            raise TypeError(f"{provider!r} is not a Provider subclass")
        if provider.name in self._providers and self._providers[provider.name] is not provider:
            raise ValueError(f"two plugins register the AI provider {provider.name!r}")
        self._providers[provider.name] = provider

    def names(self) -> list[str]:
        return sorted(self._providers)

    def provider_class(self, name: str) -> type[Provider]:
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProvider(
                f"unknown AI provider {name!r}; known: {', '.join(self.names())}"
            ) from None

    def create(
        self,
        name: str,
        config: ProviderConfig | Mapping[str, Any] | None = None,
        prices: PriceTable | None = None,
        http: httpx.Client | None = None,
    ) -> Provider:
        """A provider of the plugin `name`; `config` is validated against its config model."""
        cls = self.provider_class(name)
        if not isinstance(config, ProviderConfig):
            config = cls.config_model.model_validate(dict(config or {}))
        return cls(config, prices=prices, http=http)


def get_plugin_manager(
    load_entrypoints: bool = True, allow: Iterable[str] | None = None
) -> pluggy.PluginManager:
    """`allow` (from `TAMTAM_LOAD_PLUGINS`) limits which entry points load; None loads all."""
    return build_manager(ENTRY_POINT_GROUP, hookspecs, DEFAULT_PLUGINS, load_entrypoints, allow)


def get_provider_registry(
    load_entrypoints: bool = True, allow: Iterable[str] | None = None
) -> ProviderRegistry:
    return ProviderRegistry(get_plugin_manager(load_entrypoints, allow))
