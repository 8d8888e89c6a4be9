"""Helpers shared by the information-filing tests (pushes, attachments, Excel)."""
from __future__ import annotations

import support

CLERK_PASSWORD = "Clerk2026pass"


def make_user(app, username, bureau_code, role_name="县级经办"):
    """A user of ``bureau_code`` with a settled password (no first-login redirect)."""
    return support.make_user(app, username, bureau_code, role_name, CLERK_PASSWORD)


def audit_rows(app, action):
    with app.app_context():
        from sqlalchemy import select
        from core.audit import AuditRecord
        from core.extensions import db
        return [(r.actor, r.actor_kind, r.obj_id, r.obj_bureau, r.after, r.reason)
                for r in db.session.scalars(select(AuditRecord).where(AuditRecord.action == action)
                                            .order_by(AuditRecord.seq))]


def chain_ok(app):
    with app.app_context():
        from core import audit
        count, _head, problem = audit.verify()
        return count, problem
