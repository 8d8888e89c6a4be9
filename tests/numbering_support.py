"""Helpers shared by the numbering, certificate and verification tests."""
from __future__ import annotations

from conftest import SAMPLES

CLERK_PASSWORD = "Clerk2026-pass!"


def make_user(app, username, bureau_code, role_name=None):
    """A user of ``bureau_code`` with the given role (default 县级经办) who may log in at once."""
    from core.extensions import db
    from core.scope import ROLE_CLERK
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.find_user(username=username)
        if user is None:
            user = sm.add_user(username, "测试", "用户", f"{username}@permits.test",
                               sm.find_role(role_name or ROLE_CLERK), CLERK_PASSWORD)
            assert user, "could not create the test user"
        user = sm.find_user(username=username)
        user.bureau_code = bureau_code
        user.must_change_password = False
        db.session.commit()
    return username


def new_draft(app, code="land_use_permit", bureau="41010201", **overrides) -> int:
    """Create a draft of ``code`` for ``bureau`` from the SAMPLES values; return its id."""
    from core import audit, records
    from core.extensions import db
    with app.app_context():
        state = app.extensions["permits"]
        ptype, model = state.registry[code], state.models[code]
        values, errors = ptype.clean({**SAMPLES[code], **overrides})
        assert not errors, errors
        with audit.acting_as("test", "job"):
            item = records.create(ptype, model, values, bureau, via="test")
            db.session.commit()
        return item.id


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
