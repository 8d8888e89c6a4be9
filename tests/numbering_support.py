"""Helpers shared by the numbering, certificate and verification tests."""
from __future__ import annotations

import support

CLERK_PASSWORD = "Clerk2026-pass!"


def make_user(app, username, bureau_code, role_name=None):
    """A user of ``bureau_code`` with the given role (default 县级经办) who may log in at once."""
    from core.scope import ROLE_CLERK
    return support.make_user(app, username, bureau_code, role_name or ROLE_CLERK, CLERK_PASSWORD)


new_draft = support.new_draft


def issue(app, pk, **kwargs):
    """Issue draft ``pk`` inside an app context; return (number, url, payload)."""
    from core import audit, numbering
    from core.extensions import db
    from core.models import Permit
    with app.app_context():
        with audit.acting_as("test", "job"):
            permit = db.session.get(Permit, pk)
            issued = numbering.issue_permit(permit, **kwargs)
            return issued.number, issued.url, issued.permit.payload


def get_permit(app, pk):
    from core.extensions import db
    from core.models import Permit
    with app.app_context():
        permit = db.session.get(Permit, pk)
        for attr in permit.__mapper__.column_attrs:     # load the type's own columns before detaching
            getattr(permit, attr.key)
        db.session.expunge(permit)
        return permit
