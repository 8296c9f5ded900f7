"""Wiring of the generation service: the provider pool (AI provider plugins + ai.toml), the
network registry, and the consumer of generation.requested, mentions.received,
trends.detected and metrics.observed. Its HTTP routes (briefs, guardrails) are served by
the api process from services/generation/api.py.

    python -m services.generation
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from plugins.ai import get_provider_registry
from plugins.networks import get_network_registry
from services.generation.ai import AIConfig, ProviderPool
from services.generation.handlers import make_handlers
from services.generation.runs import GenerationDeps
from shared.config import Settings, get_settings
from shared.wiring import build_app, build_context, serve


def build_deps(settings: Settings, ai_config_file: Path | None = None) -> GenerationDeps:
    """`ai_config_file` (default: TAMTAM_AI_CONFIG) holds the deployment's providers, keys and
    price overrides; absent, only `local` and the keyless built-in entries are usable."""
    config_file = ai_config_file if ai_config_file is not None else Path(settings.ai_config)
    providers = ProviderPool(
        get_provider_registry(allow=settings.plugin_allow_list), AIConfig.load(config_file)
    )
    return GenerationDeps(
        providers=providers, networks=get_network_registry(allow=settings.plugin_allow_list)
    )


def create_app(settings: Settings) -> FastAPI:
    context = build_context("generation", settings)
    deps = build_deps(settings)
    context.extras["networks"] = deps.networks
    return build_app(context, handlers=make_handlers(deps), title="Tamtam generation service")


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, "generation")


if __name__ == "__main__":
    main()
