"""Every hook is documented in docs/plugins.md (as datasette checks its plugin docs)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from shared.config import ROOT

HOOKSPEC_MODULES = ("plugins.networks.hookspecs", "plugins.ai.hookspecs")


@pytest.mark.parametrize("module_name", HOOKSPEC_MODULES)
def test_every_hook_is_documented(module_name: str):
    module = importlib.import_module(module_name)
    docs = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [name for name, fn in inspect.getmembers(module, inspect.isfunction)
             if fn.__module__ == module_name]
    assert hooks, f"{module_name} defines no hook"
    for hook in hooks:
        assert f"### `{hook}(" in docs, f"{hook} is not documented in docs/plugins.md"
        assert getattr(module, hook).__doc__, f"{hook} has no docstring"
