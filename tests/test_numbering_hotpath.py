"""The hot part of issuing, on SQLite and PostgreSQL: the permit row guard, a write that fails
with the COMMIT (nothing half-saved, no gap), a hook that writes audit records of its own, and
a counter created at its first use."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from numbering_support import get_permit, issue, new_draft

DAY = dt.date(2031, 3, 3)


def _state(app):
    """(counter values, audit record count, chain problem) as the database has them."""
    from core import audit
    from core.extensions import db
    from core.numbering import NumberCounter
    with app.app_context():
        counters = {(c.scope_key, c.letters, c.year, c.trial): c.value
                    for c in db.session.scalars(select(NumberCounter))}
        count, _head, problem = audit.verify()
        db.session.remove()
        return counters, count, problem


def test_a_stale_draft_is_refused_before_any_number(any_app):
    """A clerk's page still shows a draft that someone else issued meanwhile: refused, nothing drawn."""
    from core import audit, numbering
    from core.extensions import db
    from core.models import Permit
    app = any_app
    pk = new_draft(app)
    with app.app_context():
        stale = db.session.get(Permit, pk)
        db.session.close()                   # the object keeps its loaded state ("draft")
        with db.engine.begin() as conn:      # meanwhile the record was issued elsewhere
            conn.execute(update(Permit.__table__).where(Permit.__table__.c.id == pk).values(status="issued"))
        db.session.add(stale)
        assert stale.status == "draft"
        before = _state(app)
        with audit.acting_as("test", "job"):
            with pytest.raises(numbering.IssueError) as refused:
                numbering.issue_permit(stale, today=DAY)
        assert refused.value.errors == {"status": "该许可刚刚已由他人发证或变更，请刷新页面后查看"}
        db.session.remove()
    assert _state(app) == before
    assert get_permit(app, pk).number is None


def test_a_write_failing_at_commit_saves_nothing_and_leaves_no_gap(any_app):
    """The permit's row, the audit record and the COMMIT go out together; if one of them fails
    (here: the number is already taken by a record that should not have it), all roll back."""
    from core import audit, numbering
    from core.extensions import db
    from core.models import Permit
    app = any_app
    first, squatter = new_draft(app), new_draft(app)
    taken = "地字第4101022031YG0000001号"
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(update(Permit.__table__).where(Permit.__table__.c.id == squatter).values(number=taken))
    before = _state(app)
    with app.app_context():
        with audit.acting_as("test", "job"):
            with pytest.raises(Exception) as failed:
                numbering.issue_permit(db.session.get(Permit, first), today=DAY)
        assert "number" in str(failed.value).lower() or "unique" in str(failed.value).lower()
        db.session.remove()
    after = _state(app)
    assert after == before                          # no counter row, no audit record, chain intact
    assert after[2] is None
    assert get_permit(app, first).status == "draft" and get_permit(app, first).number is None
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(update(Permit.__table__).where(Permit.__table__.c.id == squatter).values(number=None))
    number, _url, _payload = issue(app, first, today=DAY)
    assert number == taken                          # serial 1 again: the failed issue used nothing


def test_a_hook_writing_audit_records_keeps_the_chain_whole(any_app):
    """A plugin's hook that reads and appends to the audit chain itself, inside the issue."""
    from core import audit, numbering
    from core.extensions import db
    from core.hookspecs import hookimpl
    from core.models import Permit
    app = any_app

    class Notifier:
        @hookimpl
        def on_permit_issued(self, permit, permit_type):
            count = db.session.scalar(select(Permit.id).where(Permit.id == permit.id))
            audit.record("notice.queued", obj_type=permit_type.code, obj_id=permit.id,
                         after={"number": permit.number, "seen": count})

    pm = app.extensions["permits"].pm
    drafts = [new_draft(app) for _ in range(3)]
    pm.register(Notifier(), name="notifier")
    try:
        numbers = [issue(app, pk, today=DAY)[0] for pk in drafts]
    finally:
        pm.unregister(name="notifier")
    counters, count, problem = _state(app)
    assert problem is None
    assert counters[("province", "YG", 2031, False)] == 3
    assert [n[-8:] for n in numbers] == ["0000001号", "0000002号", "0000003号"]
    with app.app_context():
        actions = db.session.execute(select(audit.AuditRecord.action, audit.AuditRecord.after)
                                     .order_by(audit.AuditRecord.seq.desc()).limit(6)).all()
        db.session.remove()
    # each issue: the hook's record first, then the issue's own, both naming the same number
    assert [a for a, _ in reversed(actions)] == ["notice.queued", "permit.issue"] * 3
    afters = [audit.loads(after)["number"] for _, after in reversed(actions)]
    assert afters == [numbers[0], numbers[0], numbers[1], numbers[1], numbers[2], numbers[2]]


def test_the_counter_row_is_created_at_first_use_and_only_goes_up(any_app):
    from core.numbering import NumberCounter
    from core.extensions import db
    app = any_app
    drafts = [new_draft(app) for _ in range(2)]
    assert ("province", "YG", 2044, False) not in _state(app)[0]
    assert issue(app, drafts[0], today=dt.date(2044, 1, 2))[0].endswith("2044YG0000001号")
    assert _state(app)[0][("province", "YG", 2044, False)] == 1
    with app.app_context():          # a counter set ahead (e.g. numbers issued by the old system)
        db.session.get(NumberCounter, ("province", "YG", 2044, False)).value = 41
        db.session.commit()
    assert issue(app, drafts[1], today=dt.date(2044, 1, 3))[0].endswith("2044YG0000042号")
