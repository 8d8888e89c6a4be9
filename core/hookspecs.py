"""The plugin contract: hook specifications of the ``permits`` project.

Hooks are verb-first: ``register_*`` contributes, ``on_*`` notifies.  Their
user documentation, one section per hook under its exact signature, is in
``docs/plugins.md``; ``tests/test_hooks.py`` fails if a hook is missing there
or has no ``test_hook_<name>`` test.
"""
import pluggy

PROJECT = "permits"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_permit_types(register):
    """Call ``register(PermitType(...))`` once per permit type the plugin provides."""


@hookspec
def on_permit_issued(permit, permit_type):
    """Called after a permit got its number, inside the issuing transaction; return value ignored."""


@hookspec
def on_permit_type_toggled(permit_type, enabled):
    """Called after an admin switched a permit type on or off; return value ignored."""
