"""Test helpers shared by every area: users who may log in at once, drafts of any type."""
from __future__ import annotations

from conftest import SAMPLES


def make_user(app, username, bureau_code, role_name, password):
    """A user of ``bureau_code`` (or none) with ``role_name`` whose password is settled (no first-login page)."""
    from core.extensions import db
    from core.models import utcnow
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.find_user(username=username)
        if user is None:
            user = sm.add_user(username, "测试", username, f"{username}@permits.test", sm.find_role(role_name),
                               password)
            assert user, "could not create the test user"
        user = sm.find_user(username=username)
        user.bureau_code = bureau_code
        user.must_change_password = False
        user.password_changed_on = utcnow()
        db.session.commit()
    return username


def new_draft(app, code="land_use_permit", bureau="41010201", **overrides) -> int:
    """Create a draft of ``code`` for ``bureau`` from the SAMPLES values (audited as a test job); return its id."""
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
