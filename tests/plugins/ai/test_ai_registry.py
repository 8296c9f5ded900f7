from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from plugins.ai import DEFAULT_PLUGINS, ProviderRegistry, get_plugin_manager, get_provider_registry
from plugins.ai.base import Generation, GenerationRequest, Provider, StructuredOutput, Usage
from plugins.ai.hookspecs import hookimpl


class EchoProvider(Provider):
    name = "echo"
    display_name = "Echo"

    def generate(self, request: GenerationRequest) -> Generation:
        output = StructuredOutput.model_validate({"variants": [{"text": request.user}]})
        return self.finish("echo-1", output, Usage(1, 1))


def _plugin(*classes: type) -> ModuleType:
    module = ModuleType("inline_ai_plugin")

    @hookimpl
    def register_providers(register: Callable[[type], None]) -> None:
        for cls in classes:
            register(cls)

    module.register_providers = register_providers  # type: ignore[attr-defined]
    return module


def test_builtin_providers_are_registered_through_the_hook():
    registry = get_provider_registry(load_entrypoints=False)
    assert registry.names() == ["anthropic", "local", "openai"]
    assert DEFAULT_PLUGINS == ("plugins.ai.local", "plugins.ai.openai", "plugins.ai.anthropic")


def test_a_plugin_registered_at_run_time_provides_a_provider():
    manager = get_plugin_manager(load_entrypoints=False)
    plugin = _plugin(EchoProvider)
    manager.register(plugin)
    try:
        registry = ProviderRegistry(manager)
        provider = registry.create("echo")
        generation = provider.generate(
            GenerationRequest(task="draft", system="", user="bonjour", schema={})
        )
        assert generation.output.variants[0].text == "bonjour"
        assert generation.provider == "echo"
    finally:
        manager.unregister(plugin)


def test_two_plugins_registering_the_same_name_is_an_error():
    class OtherLocal(EchoProvider):
        name = "local"

    manager = get_plugin_manager(load_entrypoints=False)
    plugin = _plugin(OtherLocal)
    manager.register(plugin)
    try:
        with pytest.raises(ValueError, match="two plugins register the AI provider 'local'"):
            ProviderRegistry(manager)
    finally:
        manager.unregister(plugin)


def test_registering_something_that_is_not_a_provider_is_refused():
    manager = get_plugin_manager(load_entrypoints=False)
    plugin = _plugin(dict)
    manager.register(plugin)
    try:
        with pytest.raises(TypeError, match="not a Provider subclass"):
            ProviderRegistry(manager)
    finally:
        manager.unregister(plugin)


def test_a_misspelt_hook_fails_loudly():
    import pluggy

    manager = get_plugin_manager(load_entrypoints=False)
    module = ModuleType("misspelt")

    @hookimpl
    def register_provider(register):  # type: ignore[no-untyped-def]  # missing "s"
        pass

    module.register_provider = register_provider  # type: ignore[attr-defined]
    manager.register(module)
    with pytest.raises(pluggy.PluginValidationError):
        manager.check_pending()


def test_provider_configuration_is_validated_and_keys_stay_secret():
    registry = get_provider_registry(load_entrypoints=False)
    provider = registry.create("openai", {"api_key": "sk-secret", "base_url": "http://x/v1"})
    assert "sk-secret" not in repr(provider.config)
    with pytest.raises(Exception, match="extra"):
        registry.create("openai", {"api_kee": "typo"})
