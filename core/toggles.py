"""Switching permit types on and off at run time (业务类型管理).

The switch is a row in ``permit_type_setting``, read on every request, so a
change is effective at once in every process without a restart.  A type
that is off keeps its tables, records, views and blueprints (they cannot be
removed from a running Flask app); a ``before_request`` guard answers 403
for its add/edit/delete pages and API writes, hides its menu entries, and
lets only province admins read its records.  Public verification of its
certificates is not affected.
"""
from __future__ import annotations

from flask import current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from .extensions import db
from .models import PermitTypeSetting
from .scope import current_actor, is_province

READ_METHODS = {"list", "show", "get", "get_list", "info", "download", "api_read", "api_get", "export",
                "history", "certificate"}


def states() -> dict:
    """{type code: enabled} for every type with a stored setting (missing means on)."""
    cache = getattr(g, "_permit_type_states", None)
    if cache is None:
        cache = dict(db.session.execute(select(PermitTypeSetting.code, PermitTypeSetting.enabled)).all())
        g._permit_type_states = cache
    return cache


def is_enabled(code) -> bool:
    return states().get(code, True)


def set_enabled(code, enabled: bool) -> None:
    row = db.session.get(PermitTypeSetting, code)
    before = True if row is None else row.enabled
    if row is None:
        row = PermitTypeSetting(code=code, enabled=enabled)
        db.session.add(row)
    row.enabled = enabled
    ext = current_app.extensions["permits"]
    if before != enabled:
        from . import audit
        audit.record("type.enable" if enabled else "type.disable", obj_type="permit_type", obj_id=code,
                     before={"enabled": before}, after={"enabled": enabled})
    db.session.commit()
    g.pop("_permit_type_states", None)
    ext.pm.hook.on_permit_type_toggled(permit_type=ext.registry[code], enabled=enabled)


def _refuse(ptype):
    message = _("The permit type %(name)s is switched off", name=ptype.name)
    if request.path.startswith("/api/"):
        return jsonify(message=message), 403
    return render_template("permits/error.html", code=403, message=message,
                           base_template=current_app.appbuilder.base_template,
                           appbuilder=current_app.appbuilder), 403


def guard():
    """``before_request``: refuse what a switched-off type may not do."""
    ext = current_app.extensions["permits"]
    code = ext.endpoint_types.get(request.blueprint)
    if code is None or is_enabled(code):
        return None
    method = (request.endpoint or "").rsplit(".", 1)[-1]
    reading = request.method in ("GET", "HEAD") and method in READ_METHODS
    if reading and is_province(current_actor()):
        return None
    return _refuse(ext.registry[code])


def menu_visible(item) -> bool:
    """Jinja test used by the navbar: hide entries of switched-off types."""
    ext = current_app.extensions["permits"]
    code = ext.menu_types.get(item.name)
    return code is None or is_enabled(code)
