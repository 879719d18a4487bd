"""The ``gameday`` command's side of the declared extension points: the plugins of the entry point group
``gameday.plugins``, registered against ``gameday.plugin.hookspecs`` with pluggy, as pytest does for the
same modules, so a hook with a wrong name or signature is refused in both places alike."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

import pluggy

from gameday.plugin import hookspecs

GROUP = "gameday.plugins"


class _Plugins(pluggy.PluginManager):
    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("pytest_gameday_") and callable(getattr(plugin, name, None)):
            return {}  # an unmarked pytest_gameday_* function, as pytest itself takes it
        return opts


def plugin_modules() -> list[Any]:
    """The modules of ``gameday.plugins``, in the order of their names."""
    return [importlib.import_module(ep.value) for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name)]


def plugins() -> pluggy.PluginManager:
    """Every plugin of ``gameday.plugins``, registered against the hookspecs (pytest's project name, so
    ``pytest.hookimpl`` markers apply)."""
    pm = _Plugins("pytest")
    pm.add_hookspecs(hookspecs)
    for module in plugin_modules():
        pm.register(module)
    for name in list(pm.hook.__dict__):  # only the gameday hooks: pytest's own are none of the command's business
        if not name.startswith("pytest_gameday_"):
            delattr(pm.hook, name)
    pm.check_pending()
    return pm
