"""Wiring declarations into FAB: the only place that calls ``add_view``/``add_api``.

Plugins declare; the core wires.  A permit type gets a menu entry under
"许可证管理", its pages, its REST API, and a row in the type switchboard.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .api import PermitTypesApi, permit_api_class
from .views import PermitTypesView, permit_view_class

PERMITS_CATEGORY = "许可证管理"
ADMIN_CATEGORY = "系统管理"


def add_permit_type(appbuilder, state, ptype) -> None:
    model = state.models[ptype.code]
    view_cls = permit_view_class(ptype, model)
    api_cls = permit_api_class(ptype, model)
    menu_name = ptype.name
    appbuilder.add_view(view_cls, menu_name, label=ptype.name, icon="fa-file-text-o",
                        category=PERMITS_CATEGORY, category_label=PERMITS_CATEGORY)
    appbuilder.add_api(api_cls)
    state.views[ptype.code] = view_cls
    state.apis[ptype.code] = api_cls
    state.endpoint_types[view_cls.__name__] = ptype.code
    state.endpoint_types[api_cls.__name__] = ptype.code
    state.menu_types[menu_name] = ptype.code


def add_core_views(appbuilder, state) -> None:
    appbuilder.add_view(PermitTypesView, "PermitTypes", label=_l("Permit types"), icon="fa-toggle-on",
                        category="Security", category_label=_l("Security"))
    appbuilder.add_api(PermitTypesApi)
    from .auditviews import add_views as add_audit_views
    add_audit_views(appbuilder, state)
    from . import filing
    filing.install(appbuilder, state)
