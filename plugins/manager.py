"""The one way Tamtam builds a pluggy manager, for both plugin families.

It adds the family's hookspecs, registers the built-in modules, loads third-party plugins
from the setuptools entry-point group of the same name (all of them, or only the names in
`allow`, from `TAMTAM_LOAD_PLUGINS`), and calls `check_pending()` so a misspelt hook fails.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

import pluggy


def build_manager(
    project: str, hookspecs: ModuleType, builtins: Iterable[str],
    load_entrypoints: bool = True, allow: Iterable[str] | None = None,
) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(project)
    manager.add_hookspecs(hookspecs)
    for module_name in builtins:
        manager.register(importlib.import_module(module_name), name=module_name)
    if load_entrypoints:
        if allow is None:
            manager.load_setuptools_entrypoints(project)
        else:
            for name in allow:
                manager.load_setuptools_entrypoints(project, name=name)
    manager.check_pending()
    return manager
