"""Unified numbering: format, counters, trial range, rollbacks, refusals, changes."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from numbering_support import get_permit, issue, new_draft


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the module (building one costs seconds); tests use years of their own."""
    from conftest import build_app
    app = build_app(tmp_path_factory.mktemp("numbering"))
    yield app
    with app.app_context():
        from core.extensions import db
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def configured(app):
    """Set config keys for one test and restore them after."""
    saved = {}

    def _set(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key))
            app.config[key] = value
        return app

    yield _set
    app.config.update(saved)


# --- the number itself -----------------------------------------------------------------------

def test_format_and_parse_every_part():
    from core.numbering import format_number, parse_number
    number = format_number("地", "410102", 2025, "YG", 1)
    assert number == "地字第4101022025YG0000001号"
    parts = parse_number(number)
    assert (parts.prefix, parts.division, parts.year, parts.letters, parts.serial) == ("地", "410102", 2025, "YG", 1)
    assert parts.trial is False
    assert str(parts) == number
    assert len(number) == 1 + 2 + 19 + 1       # 地 字第 {6}{4}{2}{7} 号
    real = parse_number("用字第4101222025XS0040565号")   # a real Henan number
    assert (real.division, real.year, real.letters, real.serial) == ("410122", 2025, "XS", 40565)
    assert parse_number("建字第4101022025GG9000001号").trial is True


@pytest.mark.parametrize("text", [
    "地字第410102025YG0000001号",    # 5-digit division
    "地字第4101022025yg0000001号",   # lower-case letters
    "地字第4101022025YG000001号",    # 6-digit serial
    "地字第4101022025YG0000000号",   # serial 0
    "地第4101022025YG0000001号",     # no 字
    "4101022025YG0000001",           # no prefix / 号
    "",
])
def test_parse_rejects_malformed(text):
    from core.numbering import parse_number
    with pytest.raises(ValueError):
        parse_number(text)


@pytest.mark.parametrize("args", [("地", "41010", 2025, "YG", 1), ("地", "410102", 2025, "Y", 1),
                                  ("地", "410102", 2025, "YG", 0), ("地", "410102", 2025, "YG", 10_000_000),
                                  ("地地", "410102", 2025, "YG", 1)])
def test_format_refuses_bad_parts(args):
    from core.numbering import format_number
    with pytest.raises(ValueError):
        format_number(*args)


# --- issuing ---------------------------------------------------------------------------------

def test_issue_assigns_contiguous_numbers(any_app):
    app = any_app
    day = dt.date(2025, 6, 1)
    numbers = [issue(app, new_draft(app), today=day)[0] for _ in range(3)]
    assert numbers == [f"地字第4101022025YG000000{i}号" for i in (1, 2, 3)]
    other = issue(app, new_draft(app, "construction_permit", bureau="41018101"), today=day)[0]
    assert other == "建字第4101812025GG0000001号"   # its own counter, the bureau's own division code
    with app.app_context():
        from core.audit import AuditRecord, verify
        from core.extensions import db
        from core.models import Permit
        rows = db.session.scalars(select(Permit).where(Permit.number.isnot(None)).order_by(Permit.serial)).all()
        assert [r.status for r in rows] == ["issued"] * 4
        assert all(r.issued_on == day and r.issued_at is not None and r.payload and len(r.digest) == 64
                   for r in rows)
        recs = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "permit.issue")).all()
        assert sorted(r.obj_id for r in recs) == sorted(str(r.id) for r in rows)
        assert any(numbers[0] in r.after for r in recs)
        assert verify()[2] is None


def test_development_zone_prints_its_host_code(app):
    # 郑州高新区 (4101G101) prints 410102 in its numbers
    number = issue(app, new_draft(app, bureau="4101G101"), today=dt.date(2031, 3, 1))[0]
    assert number == "地字第4101022031YG0000001号"


def test_issue_twice_is_refused(app):
    from core.numbering import IssueError
    pk = new_draft(app)
    issue(app, pk, today=dt.date(2032, 1, 2))
    with pytest.raises(IssueError) as err:
        issue(app, pk)
    assert "status" in err.value.errors


def _counter_values(app):
    with app.app_context():
        from core.extensions import db
        from core.numbering import NumberCounter
        return {(c.scope_key, c.letters, c.year, c.trial): c.value for c in db.session.scalars(select(NumberCounter))}


def test_rolled_back_issue_leaves_no_gap(app):
    """A failure after the counter was bumped (here: a plugin hook) rolls the number back."""
    from core.hookspecs import hookimpl

    class Boom:
        @hookimpl
        def on_permit_issued(self, permit, permit_type):
            raise RuntimeError("plugin failure")

    pm = app.extensions["permits"].pm
    first = new_draft(app)
    pm.register(Boom(), name="boom")
    try:
        with pytest.raises(RuntimeError):
            issue(app, first, today=dt.date(2033, 5, 5))
    finally:
        pm.unregister(name="boom")
    assert get_permit(app, first).number is None
    assert get_permit(app, first).status == "draft"
    assert _counter_values(app).get(("province", "YG", 2033, False), 0) == 0
    assert issue(app, first, today=dt.date(2033, 5, 5))[0].endswith("2033YG0000001号")


def test_invalid_record_is_refused_and_nothing_numbered(app):
    from core.extensions import db
    from core.models import Permit
    from core.numbering import IssueError
    pk = new_draft(app)
    with app.app_context():
        permit = db.session.get(Permit, pk)
        permit.land_use = None             # a required field emptied behind the form's back
        db.session.commit()
    with pytest.raises(IssueError) as err:
        issue(app, pk, today=dt.date(2034, 1, 1))
    assert set(err.value.errors) == {"land_use"}
    assert "土地用途" in err.value.errors["land_use"]
    assert get_permit(app, pk).number is None
    assert ("province", "YG", 2034, False) not in _counter_values(app)


def test_pre_issue_checks_refuse(app):
    from core import numbering

    def needs_contract(permit, ptype):
        return {"_": "请先上传出让合同"}

    def old_style(permit):            # one-argument checks that raise are accepted too
        raise ValueError("缺少附件：规划条件")

    pk = new_draft(app)
    numbering.PRE_ISSUE_CHECKS.extend([needs_contract, old_style])
    try:
        with pytest.raises(numbering.IssueError) as err:
            issue(app, pk)
    finally:
        numbering.PRE_ISSUE_CHECKS.remove(needs_contract)
        numbering.PRE_ISSUE_CHECKS.remove(old_style)
    assert "请先上传出让合同" in err.value.messages
    assert "缺少附件：规划条件" in err.value.messages
    assert get_permit(app, pk).number is None


def test_trial_and_formal_numbers_never_collide(app, configured):
    from core.numbering import parse_number
    configured(PERMITS_GO_LIVE=dt.date(2035, 7, 1))
    trial = [issue(app, new_draft(app), today=dt.date(2035, 6, 30))[0] for _ in range(2)]
    formal = [issue(app, new_draft(app), today=dt.date(2035, 7, 1))[0] for _ in range(2)]
    assert trial == ["地字第4101022035YG9000001号", "地字第4101022035YG9000002号"]
    assert formal == ["地字第4101022035YG0000001号", "地字第4101022035YG0000002号"]
    assert not set(trial) & set(formal)
    assert [parse_number(n).trial for n in trial + formal] == [True, True, False, False]
    counters = _counter_values(app)
    assert counters[("province", "YG", 2035, True)] == 2 and counters[("province", "YG", 2035, False)] == 2


def test_formal_range_cannot_reach_the_trial_range(app):
    from core.extensions import db
    from core.numbering import FORMAL_MAX, IssueError, NumberCounter, ensure_counter
    with app.app_context():
        ensure_counter(db.session, "province", "YG", 2036, False)
        db.session.get(NumberCounter, ("province", "YG", 2036, False)).value = FORMAL_MAX
        db.session.commit()
    pk = new_draft(app)
    with pytest.raises(IssueError):
        issue(app, pk, today=dt.date(2036, 2, 2))
    assert get_permit(app, pk).number is None


def test_division_scope_counts_per_division(app, configured):
    configured(PERMITS_TYPE_SCOPE="division")
    a = issue(app, new_draft(app, bureau="41010201"), today=dt.date(2037, 4, 1))[0]
    b = issue(app, new_draft(app, bureau="41018101"), today=dt.date(2037, 4, 1))[0]
    c = issue(app, new_draft(app, bureau="41010201"), today=dt.date(2037, 4, 1))[0]
    assert (a, b, c) == ("地字第4101022037YG0000001号", "地字第4101812037YG0000001号", "地字第4101022037YG0000002号")


def test_new_year_starts_a_new_counter(app):
    a = issue(app, new_draft(app), today=dt.date(2038, 12, 31))[0]
    b = issue(app, new_draft(app), today=dt.date(2039, 1, 1))[0]
    assert a.endswith("2038YG0000001号") and b.endswith("2039YG0000001号")


def test_change_makes_a_new_version_with_a_new_number(app):
    from core import audit, numbering
    from core.extensions import db
    from core.models import Permit
    pk = new_draft(app)
    old_number = issue(app, pk, today=dt.date(2040, 8, 1))[0]
    with app.app_context(), audit.acting_as("test", "job"):
        old = db.session.get(Permit, pk)
        with pytest.raises(numbering.IssueError):
            numbering.change_permit(old, {"land_use": old.land_use})       # nothing changed
        changed = numbering.change_permit(old, {"total_area": "20000.5"}, today=dt.date(2040, 9, 1),
                                          reason="规划条件调整")
        new_id, new_number = changed.permit.id, changed.number
        assert new_number == "地字第4101022040YG0000002号"
        old = db.session.get(Permit, pk)
        assert old.status == "changed" and old.number == old_number
        new = db.session.get(Permit, new_id)
        assert (new.status, new.version, new.previous_id, str(new.total_area)) == ("issued", 2, pk, "20000.50")
        assert new.holder == old.holder and new.bureau_code == old.bureau_code
        rec = db.session.scalar(select(audit.AuditRecord).where(audit.AuditRecord.action == "permit.change",
                                                                audit.AuditRecord.obj_id == str(new_id)))
        assert old_number in rec.before and new_number in rec.after and rec.reason == "规划条件调整"
        with pytest.raises(numbering.IssueError):
            numbering.change_permit(old, {"total_area": "1"})              # 已变更 cannot change again
        with pytest.raises(numbering.IssueError) as err:
            numbering.change_permit(new, {"total_area": "abc"})
        assert "total_area" in err.value.errors


def test_numbers_are_never_reused_after_revocation(app):
    from core.extensions import db
    from core.models import Permit
    pk = new_draft(app)
    issue(app, pk, today=dt.date(2041, 3, 3))
    with app.app_context():
        permit = db.session.get(Permit, pk)
        permit.status, permit.revoked_on, permit.revoke_reason = "revoked", dt.date(2041, 3, 4), "测试撤销"
        db.session.commit()
    assert issue(app, new_draft(app), today=dt.date(2041, 3, 5))[0].endswith("2041YG0000002号")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Permit)
                                 .where(Permit.number.like("%2041YG%"))) == 2
