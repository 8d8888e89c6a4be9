"""河南省规划用地许可管理系统 -- the core.

``create_app(overrides=None)`` builds one independent app: its own config,
plugin manager, permit-type registry and AppBuilder.  The steps are small
named functions so each can be read (and tested) on its own.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from flask import Flask

__all__ = ["create_app", "PermitsState"]


@dataclass
class PermitsState:
    """What the permits core keeps per app (``app.extensions["permits"]``)."""

    pm: object
    registry: object
    models: dict = field(default_factory=dict)
    views: dict = field(default_factory=dict)
    apis: dict = field(default_factory=dict)
    endpoint_types: dict = field(default_factory=dict)   # blueprint name -> type code
    menu_types: dict = field(default_factory=dict)       # menu item name -> type code


def create_app(overrides: dict | None = None) -> Flask:
    overrides = dict(overrides or {})
    instance_path = overrides.pop("INSTANCE_PATH", None) or os.environ.get("PERMITS_INSTANCE_PATH")
    app = Flask(__name__, instance_path=os.path.abspath(instance_path) if instance_path else None,
                instance_relative_config=True)
    load_config(app, overrides)
    init_db(app)
    init_plugins(app)
    with app.app_context():
        init_appbuilder(app)
        init_views(app)
    init_hooks(app)
    return app


def load_config(app: Flask, overrides: dict) -> None:
    from . import config
    from .i18n import compile_catalogs
    compile_catalogs()
    app.config.from_object(config)
    app.config.from_pyfile("permits.cfg", silent=True)
    app.config.update(config.from_environment())
    app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.setdefault("SQLALCHEMY_DATABASE_URI",
                          "sqlite:///" + os.path.join(app.instance_path, "permits.db"))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.instance_secret(app.instance_path)


def init_db(app: Flask) -> None:
    from .dbsetup import configure_engine_options
    from .extensions import db
    configure_engine_options(app)
    db.init_app(app)


def init_plugins(app: Flask) -> None:
    from .models import model_for
    from .plugins import collect_permit_types, make_plugin_manager
    pm = make_plugin_manager(app.config.get("PERMIT_PLUGINS"))
    registry = collect_permit_types(pm)
    state = PermitsState(pm=pm, registry=registry)
    for ptype in registry:
        state.models[ptype.code] = model_for(ptype)
    app.extensions["permits"] = state


def init_appbuilder(app: Flask) -> None:
    import logging
    from flask_appbuilder import AppBuilder
    # FAB's security API logs a warning per unsupported filter column at every start
    logging.getLogger("flask_appbuilder.models.filters").setLevel(logging.ERROR)
    from .extensions import db
    from .dbsetup import install_sqlite_begin
    install_sqlite_begin(db.engine)
    from flask_wtf.csrf import CSRFProtect
    # every page form needs its token; FAB exempts its REST APIs (token-authenticated) itself,
    # which is why this must come before the AppBuilder registers them
    CSRFProtect(app)
    appbuilder = AppBuilder(update_perms=app.config.get("FAB_UPDATE_PERMS", False))
    appbuilder.indexview = _index_view()
    appbuilder.init_app(app, db.session)


def _index_view():
    from .pages import HomeView
    return HomeView


def init_views(app: Flask) -> None:
    from .wiring import add_core_views, add_permit_type
    appbuilder = app.appbuilder
    state = app.extensions["permits"]
    for ptype in state.registry:
        add_permit_type(appbuilder, state, ptype)
    add_core_views(appbuilder, state)


def init_hooks(app: Flask) -> None:
    from flask_wtf.csrf import generate_csrf
    from . import accounts, errors, toggles
    app.jinja_env.globals.setdefault("csrf_token", generate_csrf)
    accounts.init_app(app)
    from . import certificates, verify
    certificates.init_app(app)
    verify.init_app(app)
    app.before_request(toggles.guard)
    app.jinja_env.globals["permit_menu_visible"] = toggles.menu_visible
    errors.register(app)
