"""Helpers of the audit, revocation and spot-check tests."""
from __future__ import annotations

import datetime as dt

import support

PASSWORD = "Audit2026-pass!"


def make_user(app, username, bureau_code, role_name):
    """A user of ``bureau_code`` (or none) with ``role_name`` who may log in at once."""
    return support.make_user(app, username, bureau_code, role_name, PASSWORD)


def issued_permit(app, code="land_use_permit", bureau="41010201", serial=1, issued_on=dt.date(2026, 3, 1),
                  **overrides) -> int:
    """An issued permit (status, number and date set directly); return its id."""
    from core.extensions import db
    from core.models import Permit
    pk = support.new_draft(app, code, bureau, **overrides)
    with app.app_context():
        ptype = app.extensions["permits"].registry[code]
        item = db.session.get(Permit, pk)
        item.status = "issued"
        item.issued_on = issued_on
        item.number = f"{ptype.prefix_char}字第{bureau[:6]}{issued_on.year}{ptype.letters}{serial:07d}号"
        db.session.commit()
    return pk


def records_of(app, action, **where):
    from sqlalchemy import select
    from core.audit import AuditRecord
    from core.extensions import db
    with app.app_context():
        q = select(AuditRecord).where(AuditRecord.action == action)
        for key, value in where.items():
            q = q.where(getattr(AuditRecord, key) == value)
        rows = db.session.execute(q.order_by(AuditRecord.seq)).scalars().all()
        for r in rows:
            db.session.expunge(r)
        return rows
