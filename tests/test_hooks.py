"""The plugin contract: every hook documented under its signature and tested; start-up checks."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest

from core import hookspecs
from core.hookspecs import hookimpl
from core.plugins import collect_permit_types, make_plugin_manager
from core.registry import Field, PermitType, Text

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if callable(fn) and hasattr(fn, "permits_spec"))


def test_there_are_hooks():
    assert "register_permit_types" in HOOKS and "on_permit_issued" in HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_hook_documented_under_its_signature(name):
    signature = f"### {name}{inspect.signature(getattr(hookspecs, name))}"
    assert signature in DOCS.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name):
    tests = "\n".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    assert re.search(rf"def test_hook_{name}\b", tests), f"no test_hook_{name}"


def _ptype(code="alpha", letters="AA", prefix="甲"):
    return PermitType(code=code, name=f"测试{code}", prefix_char=prefix, letters=letters,
                      fields=[Field("note", "备注", Text(50))])


class _Plugin:
    def __init__(self, *types):
        self.types = types

    @hookimpl
    def register_permit_types(self, register):
        for t in self.types:
            register(t)


def test_hook_register_permit_types():
    pm = make_plugin_manager([("one", _Plugin(_ptype("alpha", "AA"), _ptype("beta", "BB")))])
    registry = collect_permit_types(pm)
    assert [t.code for t in registry] == ["alpha", "beta"]
    assert registry["alpha"].plugin_name == "one"


def test_duplicate_code_names_both_plugins():
    pm = make_plugin_manager([("first_plugin", _Plugin(_ptype("alpha", "AA"))),
                              ("second_plugin", _Plugin(_ptype("alpha", "BB")))])
    with pytest.raises(ValueError) as err:
        collect_permit_types(pm)
    assert "first_plugin" in str(err.value) and "second_plugin" in str(err.value)


def test_duplicate_letters_names_both_plugins():
    pm = make_plugin_manager([("first_plugin", _Plugin(_ptype("alpha", "AA"))),
                              ("second_plugin", _Plugin(_ptype("gamma", "AA")))])
    with pytest.raises(ValueError) as err:
        collect_permit_types(pm)
    assert "first_plugin" in str(err.value) and "second_plugin" in str(err.value) and "AA" in str(err.value)


def test_misspelled_hook_fails_at_startup():
    class Typo:
        @hookimpl
        def register_permit_type(self, register):  # missing "s"
            pass

    with pytest.raises(pluggy.PluginValidationError):
        make_plugin_manager([("typo", Typo())])


def test_unknown_argument_fails_at_startup():
    class BadArgs:
        @hookimpl
        def register_permit_types(self, register, appbuilder):
            pass

    with pytest.raises(pluggy.PluginValidationError):
        make_plugin_manager([("bad", BadArgs())])


def test_misspelled_hook_stops_the_app(tmp_path):
    from core import create_app

    class Typo:
        @hookimpl
        def on_permit_isued(self, permit, permit_type):
            pass

    with pytest.raises(pluggy.PluginValidationError):
        create_app({"PERMIT_PLUGINS": ["plugins.site_selection", ("typo", Typo())],
                    "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 32})


def test_builtin_types_come_from_entry_points():
    from importlib.metadata import entry_points
    names = {ep.name for ep in entry_points(group="permits.plugins")}
    assert {"site_selection", "land_use_permit", "construction_permit", "rural_permit", "verification"} <= names
    registry = collect_permit_types(make_plugin_manager())
    assert {t.letters for t in registry} >= {"XS", "YG", "GG", "XG", "HS"}
    assert {t.prefix_char for t in registry} >= {"用", "地", "建", "乡", "核"}


def test_hook_on_permit_type_toggled(app):
    seen = []

    class Listener:
        @hookimpl
        def on_permit_type_toggled(self, permit_type, enabled):
            seen.append((permit_type.code, enabled))

    state = app.extensions["permits"]
    state.pm.register(Listener(), name="listener")
    try:
        with app.test_request_context():
            from core import toggles
            toggles.set_enabled("rural_permit", False)
            toggles.set_enabled("rural_permit", True)
    finally:
        state.pm.unregister(name="listener")
    assert seen == [("rural_permit", False), ("rural_permit", True)]


def test_hook_on_permit_issued(app):
    """The hook sees the numbered permit inside the issuing transaction; an exception rolls it back."""
    from numbering_support import new_draft

    seen = []

    class Listener:
        @hookimpl
        def on_permit_issued(self, permit, permit_type):
            seen.append((permit_type.code, permit.number, permit.status))

    class Refuser:
        @hookimpl
        def on_permit_issued(self, permit, permit_type):
            raise RuntimeError("downstream refused")

    state = app.extensions["permits"]
    first, second = new_draft(app, "rural_permit"), new_draft(app, "rural_permit")
    state.pm.register(Listener(), name="listener")
    try:
        with app.test_request_context():
            from core import audit, numbering
            from core.extensions import db
            from core.models import Permit
            with audit.acting_as("test", "job"):
                issued = numbering.issue_permit(db.session.get(Permit, first))
            assert seen == [("rural_permit", issued.number, "issued")]
            state.pm.register(Refuser(), name="refuser")
            with audit.acting_as("test", "job"):
                with pytest.raises(RuntimeError):
                    numbering.issue_permit(db.session.get(Permit, second))
            db.session.rollback()
            again = db.session.get(Permit, second)
            assert again.status == "draft" and again.number is None
            state.pm.unregister(name="refuser")
            with audit.acting_as("test", "job"):
                retried = numbering.issue_permit(db.session.get(Permit, second))
            # the refused issue left no gap in the serials
            assert db.session.get(Permit, second).serial == db.session.get(Permit, first).serial + 1
            assert retried.number != issued.number
    finally:
        state.pm.unregister(name="listener")
        if state.pm.has_plugin("refuser"):
            state.pm.unregister(name="refuser")
