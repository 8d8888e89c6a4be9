"""Roles defined in code and synced by ``permits init``.

* 省厅管理员 -- everything (FAB's admin role, every permission), all bureaus;
* 市级审核   -- reads the records of its city's bureaus;
* 县级经办   -- its own bureau's records: create, edit drafts, issue, print;
* 抽查人员   -- reads what spot checks assign and records findings;
* Public     -- nothing but the public verification pages (no login).

Each role's permissions are derived from the installed permit types, so a
new type's permissions reach the roles at the next ``permits init``.
The bureau scope itself is applied by :mod:`core.scope`, not by roles.
"""
from __future__ import annotations

from .scope import ROLE_CITY, ROLE_CLERK, ROLE_INSPECTOR

SELF_SERVICE = [("can_userinfo", "UserDBModelView"), ("resetmypassword", "UserDBModelView"),
                ("can_this_form_get", "ResetMyPasswordView"), ("can_this_form_post", "ResetMyPasswordView")]

#: Extra (permission, view) pairs other core modules add per role (filled at import time of those modules).
EXTRA: dict[str, list] = {ROLE_CLERK: [], ROLE_CITY: [], ROLE_INSPECTOR: []}


def role_definitions(registry) -> dict[str, list[tuple[str, str]]]:
    clerk, city, inspector = list(SELF_SERVICE), list(SELF_SERVICE), list(SELF_SERVICE)
    for t in registry:
        read = [("can_list", t.code), ("can_show", t.code), ("menu_access", t.name)]
        write = [("can_add", t.code), ("can_edit", t.code), ("can_delete", t.code),
                 ("can_issue", t.code), ("can_print", t.code), ("can_post", t.code), ("can_put", t.code),
                 ("can_get", t.code), ("can_info", t.code)]
        clerk += read + write
        city += read + [("can_get", t.code), ("can_info", t.code), ("can_print", t.code)]
    for menu in ("许可证管理",):
        clerk.append(("menu_access", menu))
        city.append(("menu_access", menu))
    clerk += EXTRA[ROLE_CLERK]
    city += EXTRA[ROLE_CITY]
    inspector += EXTRA[ROLE_INSPECTOR]
    return {ROLE_CLERK: clerk, ROLE_CITY: city, ROLE_INSPECTOR: inspector}


def ensure_permissions(appbuilder) -> None:
    """Create every (permission, view) pair the registered views use, and every menu permission.

    Several views share one permission name (a type's pages, its REST API and its import API
    all use the type code), so FAB's own ``add_permissions(update_perms=True)``, which prunes
    a view name's permissions to those of whichever view it looks at, is not used: the union
    of all views' permissions is created, and nothing is pruned.
    """
    sm = appbuilder.sm
    wanted: dict[str, set] = {}
    for view in appbuilder.baseviews:
        wanted.setdefault(view.class_permission_name, set()).update(view.base_permissions or ())
    for view_name, perms in sorted(wanted.items()):
        for perm in sorted(perms):
            sm.add_permission_view_menu(perm, view_name)
    for item in appbuilder.menu.get_list():
        sm.add_permissions_menu(item.name)
        for child in item.childs or ():
            if child.name != "-":
                sm.add_permissions_menu(child.name)


def sync_roles(appbuilder, registry) -> list[str]:
    """Create the roles and set each one's permissions to exactly its definition."""
    sm = appbuilder.sm
    admin = sm.find_role(sm.auth_role_admin) or sm.add_role(sm.auth_role_admin)
    sm.find_role(sm.auth_role_public) or sm.add_role(sm.auth_role_public)
    ensure_permissions(appbuilder)
    # the admin role holds every permission there is
    for pv in sm.session.query(sm.permissionview_model).all():
        if pv not in admin.permissions:
            admin.permissions.append(pv)
    notes = []
    for name, pairs in role_definitions(registry).items():
        role = sm.find_role(name) or sm.add_role(name)
        wanted = []
        for perm, view in pairs:
            pv = sm.find_permission_view_menu(perm, view)
            if pv is not None:
                wanted.append(pv)
        role.permissions = wanted
        notes.append(f"角色 {name}: {len(wanted)} 项权限")
    public = sm.find_role(sm.auth_role_public)
    public.permissions = []
    sm.session.commit()
    return notes
