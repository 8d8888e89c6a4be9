"""Building the plugin manager of one app.

Each app gets its own :class:`pluggy.PluginManager` (kept on
``app.extensions["permits"]``), so two apps in one process never share
plugin state.  Plugins are found through the entry-point group
``permits.plugins`` -- the built-in types exactly like third-party ones --
or, when the config key ``PERMIT_PLUGINS`` is set, from that list of
module paths or plugin objects (tests use this).
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .registry import Registry

ENTRY_POINT_GROUP = "permits.plugins"


def make_plugin_manager(plugins=None) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if plugins is None:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            pm.register(ep.load(), name=ep.name)
    else:
        for plugin in plugins:
            if isinstance(plugin, str):
                pm.register(importlib.import_module(plugin), name=plugin)
            elif isinstance(plugin, tuple):
                name, obj = plugin
                pm.register(obj, name=name)
            else:
                pm.register(plugin)
    # a misspelled hookimpl (or one with an argument the spec does not have)
    # fails here, at start-up, instead of being ignored
    pm.check_pending()
    return pm


def collect_permit_types(pm: pluggy.PluginManager) -> Registry:
    """Ask every plugin for its types; duplicate codes or letters raise ValueError naming both."""
    registry = Registry()
    for impl in pm.hook.register_permit_types.get_hookimpls():
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        impl.function(register=lambda ptype, _n=name: registry.register(ptype, plugin_name=_n))
    return registry
