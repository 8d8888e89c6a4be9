"""Numbering under real concurrency on PostgreSQL: many processes, and a process killed mid-issue."""
from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal

import pytest
from sqlalchemy import select

from conftest import SAMPLES, _reset_pg

DAY = dt.date(2025, 10, 1)
CTX = multiprocessing.get_context("fork")


@pytest.fixture
def pg_app(pg_url, make_app):
    _reset_pg(pg_url)
    return make_app(SQLALCHEMY_DATABASE_URI=pg_url)


def _drafts(app, n, code="land_use_permit", bureau="41010201"):
    """n drafts, inserted in one transaction (their creation is not what is tested here)."""
    from core.extensions import db
    with app.app_context():
        state = app.extensions["permits"]
        ptype, model = state.registry[code], state.models[code]
        values, errors = ptype.clean(SAMPLES[code])
        assert not errors
        items = [model(**values, bureau_code=bureau, status="draft") for _ in range(n)]
        db.session.add_all(items)
        db.session.commit()
        ids = [i.id for i in items]
        db.session.remove()
        db.engine.dispose()     # no connection may be shared with the forked workers
        return ids


def _issue_all(app, ids, queue=None, hold_at=None):
    """Worker body (a forked process): issue every id; optionally hang inside the hot part."""
    from core import audit, numbering
    from core.extensions import db
    from core.hookspecs import hookimpl
    from core.models import Permit
    with app.app_context():
        db.engine.dispose(close=False)
        if hold_at is not None:
            calls = []

            class Hang:
                @hookimpl
                def on_permit_issued(self, permit, permit_type):
                    calls.append(permit.id)
                    if len(calls) == hold_at:
                        queue.put(("holding", permit.id, permit.number))
                        import time
                        time.sleep(120)     # killed here, with the counter and the chain head locked

            app.extensions["permits"].pm.register(Hang(), name="hang")
        done = 0
        with audit.acting_as(f"worker-{os.getpid()}", "job"):
            for pk in ids:
                numbering.issue_permit(db.session.get(Permit, pk), today=DAY)
                done += 1
        if queue is not None:
            queue.put(("done", done, None))


def _issued(app):
    from core.extensions import db
    from core.models import Permit
    with app.app_context():
        rows = db.session.execute(select(Permit.id, Permit.number, Permit.serial, Permit.status)
                                  .where(Permit.type_code == "land_use_permit")).all()
        from core import audit
        chain = audit.verify()
        db.session.remove()
        return rows, chain


def test_eight_processes_issue_800_distinct_contiguous_numbers(pg_app):
    from core.numbering import parse_number
    ids = _drafts(pg_app, 800)
    chunks = [ids[i::8] for i in range(8)]
    procs = [CTX.Process(target=_issue_all, args=(pg_app, chunk)) for chunk in chunks]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0] * 8
    rows, (count, _head, problem) = _issued(pg_app)
    numbers = [r.number for r in rows]
    assert len(numbers) == 800 and None not in numbers
    assert len(set(numbers)) == 800
    assert sorted(r.serial for r in rows) == list(range(1, 801))
    assert {parse_number(n).serial for n in numbers} == set(range(1, 801))
    assert all(n.startswith("地字第4101022025YG") for n in numbers)
    assert problem is None and count >= 800


def test_process_killed_mid_issue_leaves_no_duplicate_and_no_gap(pg_app):
    ids = _drafts(pg_app, 30)
    victim_ids, other_ids = ids[:10], ids[10:]
    queue = CTX.Queue()
    victim = CTX.Process(target=_issue_all, args=(pg_app, victim_ids, queue, 5))
    victim.start()
    state, held_id, held_number = queue.get(timeout=60)
    assert state == "holding" and held_number.endswith("YG0000005号")
    # a second process queues behind the victim's counter lock ...
    other = CTX.Process(target=_issue_all, args=(pg_app, other_ids, queue))
    other.start()
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(30)
    assert victim.exitcode == -signal.SIGKILL
    # ... and goes on once PostgreSQL has rolled the killed transaction back
    other.join(120)
    assert other.exitcode == 0
    assert queue.get(timeout=10) == ("done", 20, None)
    rows, (_count, _head, problem) = _issued(pg_app)
    by_id = {r.id: r for r in rows}
    assert by_id[held_id].number is None and by_id[held_id].status == "draft"
    numbers = [r.number for r in rows if r.number]
    assert len(numbers) == 4 + 20 and len(set(numbers)) == len(numbers)
    assert sorted(r.serial for r in rows if r.number) == list(range(1, 25))   # the killed serial 5 was reused
    assert held_number in numbers                                              # by the next issue, no gap
    assert problem is None


def _issue_one(app, pk, queue, release=None):
    """Worker body: issue one draft; with ``release``, wait inside the hot part until it is set."""
    from core import audit, numbering
    from core.extensions import db
    from core.hookspecs import hookimpl
    from core.models import Permit
    with app.app_context():
        db.engine.dispose(close=False)
        if release is not None:
            class Wait:
                @hookimpl
                def on_permit_issued(self, permit, permit_type):
                    queue.put(("holding", permit.number))
                    release.wait(60)

            app.extensions["permits"].pm.register(Wait(), name="wait")
        with audit.acting_as(f"worker-{os.getpid()}", "job"):
            try:
                issued = numbering.issue_permit(db.session.get(Permit, pk), today=DAY)
                queue.put(("issued", issued.number))
            except numbering.IssueError as exc:
                queue.put(("refused", exc.errors))


def test_two_clerks_issuing_the_same_draft_get_one_number(pg_app):
    """The second waits on the record's row lock, then is refused: one number, no gap."""
    import time
    pk, = _drafts(pg_app, 1)
    first_q, second_q, release = CTX.Queue(), CTX.Queue(), CTX.Event()
    first = CTX.Process(target=_issue_one, args=(pg_app, pk, first_q, release))
    first.start()
    assert first_q.get(timeout=60)[0] == "holding"
    second = CTX.Process(target=_issue_one, args=(pg_app, pk, second_q))
    second.start()
    time.sleep(1.0)                       # the second is now waiting on the row lock
    assert second_q.empty()
    release.set()
    first.join(60)
    second.join(60)
    assert first.exitcode == 0 and second.exitcode == 0
    outcome = first_q.get(timeout=10)
    assert outcome[0] == "issued" and outcome[1].endswith("2025YG0000001号")
    assert second_q.get(timeout=10) == ("refused", {"status": "该许可刚刚已由他人发证或变更，请刷新页面后查看"})
    rows, (_count, _head, problem) = _issued(pg_app)
    assert [(r.number, r.serial, r.status) for r in rows] == [(outcome[1], 1, "issued")]
    assert problem is None
    from core.extensions import db
    from core.numbering import NumberCounter
    with pg_app.app_context():
        assert db.session.get(NumberCounter, ("province", "YG", 2025, False)).value == 1
        db.session.remove()


def _edit_one(app, pk, holder, queue, release=None):
    """Worker body: edit a draft as the pages and API do; with ``release``, wait before the commit."""
    from core import audit, records
    from core.extensions import db
    from core.models import Permit
    with app.app_context():
        db.engine.dispose(close=False)
        ptype = app.extensions["permits"].registry["land_use_permit"]
        with audit.acting_as(f"editor-{os.getpid()}", "job"):
            item = db.session.get(Permit, pk)
            item.holder = holder
            try:
                records.audit_update(ptype, item, via="api")
            except records.NoLongerDraft as exc:
                db.session.rollback()
                queue.put(("refused", str(exc)))
                return
            if release is not None:
                queue.put(("holding", None))
                release.wait(60)
            db.session.commit()
            queue.put(("edited", holder))


def test_an_edit_and_an_issue_of_one_draft_run_one_after_the_other(pg_app):
    """Issue first: the edit waits, then is refused.  Edit first: the issue waits, then checks the
    edited values (here refused for a character the font lacks) -- never a certificate whose
    printed fields differ from what was checked and signed."""
    import time
    from core import signing
    from core.extensions import db
    from core.models import Permit
    first, second = _drafts(pg_app, 2)
    # 1. the issue holds the record; the edit queues behind it and is refused
    iq, eq, release = CTX.Queue(), CTX.Queue(), CTX.Event()
    issuer = CTX.Process(target=_issue_one, args=(pg_app, first, iq, release))
    issuer.start()
    assert iq.get(timeout=60)[0] == "holding"
    editor = CTX.Process(target=_edit_one, args=(pg_app, first, "改名后的单位", eq))
    editor.start()
    time.sleep(1.0)
    assert eq.empty()
    release.set()
    issuer.join(60), editor.join(60)
    assert iq.get(timeout=10)[0] == "issued"
    assert eq.get(timeout=10) == ("refused", "该许可刚刚已由他人发证或变更，请刷新页面后查看")
    # 2. the edit holds the record; the issue queues behind it and checks what the edit saved
    iq, eq, release = CTX.Queue(), CTX.Queue(), CTX.Event()
    editor = CTX.Process(target=_edit_one, args=(pg_app, second, "某某𠀀置业有限公司", eq, release))
    editor.start()
    assert eq.get(timeout=60)[0] == "holding"
    issuer = CTX.Process(target=_issue_one, args=(pg_app, second, iq))
    issuer.start()
    time.sleep(1.0)
    assert iq.empty()
    release.set()
    issuer.join(60), editor.join(60)
    assert eq.get(timeout=10) == ("edited", "某某𠀀置业有限公司")
    state, errors = iq.get(timeout=10)
    assert state == "refused" and "𠀀" in errors["holder"]
    with pg_app.app_context():
        ptype = pg_app.extensions["permits"].registry["land_use_permit"]
        issued = db.session.get(Permit, first)
        assert issued.holder != "改名后的单位" and issued.digest == signing.digest_of(ptype, issued)
        assert db.session.get(Permit, second).number is None
        db.session.remove()
    _rows, (_count, _head, problem) = _issued(pg_app)
    assert problem is None
