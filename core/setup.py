"""``permits init``: schema, roles, bureaus, admin account, demo data. Idempotent."""
from __future__ import annotations

from flask import current_app

from .extensions import db


def initialise(admin_name: str, password_source, demo: bool = False) -> list[str]:
    from . import audit, bureaus, roles, schema
    db.session.commit()   # schema changes use their own connection; hold no lock here
    report = schema.upgrade()
    appbuilder = current_app.appbuilder
    audit.ensure_head()
    db.session.commit()
    report += roles.sync_roles(appbuilder, current_app.extensions["permits"].registry)
    from . import signing
    report += signing.ensure_keys(current_app.instance_path)
    with audit.acting_as("permits-init", "job"):
        report += bureaus.load_seed()
        report += _ensure_admin(appbuilder, admin_name, password_source)
        if demo:
            from seeds import demo as demo_data
            report += demo_data.load()
    db.session.commit()
    return report


def _ensure_admin(appbuilder, admin_name, password_source) -> list[str]:
    sm = appbuilder.sm
    user = sm.find_user(username=admin_name)
    password, where = password_source(current_app.instance_path)
    if user is not None:
        return [f"管理员 {admin_name} 已存在" + (f"（初始密码见 {where}）" if where else "")]
    role = sm.find_role(sm.auth_role_admin)
    user = sm.add_user(admin_name, "省厅", "管理员", f"{admin_name}@permits.local", role, password)
    if not user:
        raise RuntimeError("could not create the admin user")
    from . import audit
    audit.record("account.create", obj_type="user", obj_id=admin_name, after={"roles": [role.name]})
    db.session.commit()
    return [f"已创建管理员 {admin_name}" + (f"，密码保存在 {where}（仅本机可读）" if where else "，密码取自 PERMITS_ADMIN_PASSWORD")]
