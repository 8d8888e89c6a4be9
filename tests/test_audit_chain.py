"""The audit chain: tamper detection, concurrent writers, the PostgreSQL trigger, the CLI."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from core import audit
from core.extensions import db


def _fill(app, n=6):
    with app.app_context():
        with audit.acting_as("test-job", "job"):
            for i in range(n):
                audit.record("test.step", obj_type="thing", obj_id=i, obj_bureau="41010201",
                             before={"名称": f"旧值{i}"}, after={"名称": f"测试{i}"})
                db.session.commit()
        return audit.head().seq


def _raw(app, *statements):
    """Run SQL as a tamperer would (on PostgreSQL with the trigger switched off for the moment)."""
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            pg = conn.dialect.name == "postgresql"
            if pg:
                conn.execute(text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_change"))
            for sql, params in statements:
                conn.execute(text(sql), params)
            if pg:
                conn.execute(text("ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_change"))


def _verify(app, **kw):
    with app.app_context():
        return audit.verify(**kw)


def _row(app, seq):
    with app.app_context():
        rec = db.session.get(audit.AuditRecord, seq)
        return {name: getattr(rec, name) for name in audit.HASHED_FIELDS + ("prev_hash", "hash")}


def test_intact_chain_verifies_and_cli_prints_head(any_app):
    n = _fill(any_app)
    count, last, problem = _verify(any_app)
    assert problem is None
    assert count == n
    with any_app.app_context():
        assert last == audit.head().hash
    runner = any_app.test_cli_runner()
    from core.auditcli import audit_cli
    out = runner.invoke(audit_cli, ["verify"])
    assert out.exit_code == 0, out.output
    assert f"{n} records" in out.output and last in out.output
    out = runner.invoke(audit_cli, ["head"])
    assert out.exit_code == 0
    assert f"permits-audit-head:v1:{n}:sha256:{last}:" in out.output
    line = out.output.strip().splitlines()[-1]
    assert runner.invoke(audit_cli, ["verify", "--head", line]).exit_code == 0
    # a signed head: the signature checks out for this line only
    signed = runner.invoke(audit_cli, ["head", "--sign"])
    assert signed.exit_code == 0, signed.output
    line, signature = signed.output.strip().splitlines()[-2:]
    assert signature.startswith("ed25519:")
    assert runner.invoke(audit_cli, ["check-head", line, signature]).exit_code == 0
    forged = line.replace(f":{n}:", f":{n + 1}:")
    assert runner.invoke(audit_cli, ["check-head", forged, signature]).exit_code == 1


def test_one_changed_byte_is_named(any_app):
    n = _fill(any_app)
    _raw(any_app, ("UPDATE audit_record SET after = :v WHERE seq = :s",
                   {"v": _row(any_app, 4)["after"].replace("测试", "测式"), "s": 4}))
    count, _last, problem = _verify(any_app)
    assert (problem.seq, problem.kind) == (4, "changed")
    assert count == 3
    out = any_app.test_cli_runner().invoke(__import__("core.auditcli", fromlist=["x"]).audit_cli, ["verify"])
    assert out.exit_code == 1
    assert "seq 4 (changed)" in out.output and "第 4 条记录已被修改" in out.output
    assert n > 4


def test_changed_actor_is_named(any_app):
    _fill(any_app)
    _raw(any_app, ("UPDATE audit_record SET actor = 'someone-else' WHERE seq = 2", {}))
    assert (_verify(any_app)[2].seq, _verify(any_app)[2].kind) == (2, "changed")


def test_changed_and_rehashed_record_is_named(any_app):
    """A tamperer who recomputes the changed record's hash is caught by the next record's link."""
    _fill(any_app)
    row = _row(any_app, 3)
    row["after"] = row["after"].replace("测试", "伪造")
    new_hash = audit.compute_hash(row, row["prev_hash"])
    _raw(any_app, ("UPDATE audit_record SET after = :a, hash = :h WHERE seq = 3", {"a": row["after"], "h": new_hash}))
    problem = _verify(any_app)[2]
    assert (problem.seq, problem.kind) == (3, "changed")


def test_deleted_record_is_named(any_app):
    _fill(any_app)
    _raw(any_app, ("DELETE FROM audit_record WHERE seq = 3", {}))
    problem = _verify(any_app)[2]
    assert (problem.seq, problem.kind) == (3, "missing")


def test_deleted_last_record_is_named(any_app):
    n = _fill(any_app)
    _raw(any_app, ("DELETE FROM audit_record WHERE seq = :s", {"s": n}))
    problem = _verify(any_app)[2]
    assert (problem.seq, problem.kind) == (n, "missing")


def test_deleted_record_with_renumbering_is_named(any_app):
    n = _fill(any_app)
    stmts = [("DELETE FROM audit_record WHERE seq = 3", {})]
    for s in range(4, n + 1):
        stmts.append(("UPDATE audit_record SET seq = :t WHERE seq = :s", {"t": s - 1, "s": s}))
    _raw(any_app, *stmts)
    problem = _verify(any_app)[2]
    assert (problem.seq, problem.kind) == (3, "missing")


def _forge(row, seq, prev):
    forged = dict(row)
    forged.update(seq=seq, prev_hash=prev, actor="forger", after='{"名称":"伪造"}')
    forged["hash"] = audit.compute_hash(forged, prev)
    return forged


INSERT = ("INSERT INTO audit_record (seq, at, actor, actor_kind, actor_bureau, client_addr, action, obj_type, "
          "obj_id, obj_bureau, before, after, reason, result, algo, prev_hash, hash) VALUES (:seq, :at, :actor, "
          ":actor_kind, :actor_bureau, :client_addr, :action, :obj_type, :obj_id, :obj_bureau, :before, :after, "
          ":reason, :result, :algo, :prev_hash, :hash)")


def test_forged_record_inserted_in_the_middle_is_named(any_app):
    """The forger shifts the later records up by one and hashes the forged one correctly."""
    n = _fill(any_app)
    row3 = _row(any_app, 3)
    stmts = [("UPDATE audit_record SET seq = :t WHERE seq = :s", {"t": s + 1000, "s": s}) for s in range(n, 3, -1)]
    stmts += [("UPDATE audit_record SET seq = :t WHERE seq = :s", {"t": s + 1, "s": s + 1000}) for s in range(n, 3, -1)]
    stmts.append((INSERT, _forge(row3, 4, row3["hash"])))
    _raw(any_app, *stmts)
    problem = _verify(any_app)[2]
    assert (problem.seq, problem.kind) == (4, "inserted")


def test_forged_record_appended_is_named(any_app):
    n = _fill(any_app)
    last = _row(any_app, n)
    _raw(any_app, (INSERT, _forge(last, n + 1, last["hash"])))
    problem = _verify(any_app)[2]
    assert (problem.seq, problem.kind) == (n + 1, "inserted")


def test_swapped_records_are_named(any_app):
    _fill(any_app)
    _raw(any_app, ("UPDATE audit_record SET seq = 1002 WHERE seq = 2", {}),
         ("UPDATE audit_record SET seq = 2 WHERE seq = 5", {}),
         ("UPDATE audit_record SET seq = 5 WHERE seq = 1002", {}))
    problem = _verify(any_app)[2]
    assert (problem.seq, problem.kind) == (2, "reordered")
    assert "原为第 5 条" in problem.detail


def test_rewritten_chain_is_caught_by_a_published_head(any_app):
    n = _fill(any_app)
    with any_app.app_context():
        published = audit.head_line(audit.head())
    # rewrite from record 2 on, recomputing every hash and the head: only the published head tells
    stmts = []
    prev = _row(any_app, 1)["hash"]
    for s in range(2, n + 1):
        row = _row(any_app, s)
        row["prev_hash"] = prev
        row["actor"] = "rewriter"
        row["hash"] = audit.compute_hash(row, prev)
        stmts.append(("UPDATE audit_record SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s",
                      {"a": "rewriter", "p": prev, "h": row["hash"], "s": s}))
        prev = row["hash"]
    stmts.append(("UPDATE audit_head SET hash = :h WHERE id = 1", {"h": prev}))
    _raw(any_app, *stmts)
    assert _verify(any_app)[2] is None
    problem = _verify(any_app, expect=audit.parse_head_line(published))[2]
    assert (problem.seq, problem.kind) == (n, "head")


def test_sm3_chain(make_app):
    app = make_app(PERMITS_AUDIT_HASH="sm3")
    n = _fill(app, 3)
    with app.app_context():
        assert db.session.get(audit.AuditRecord, n).algo == "sm3"
    assert _verify(app)[2] is None
    _raw(app, ("UPDATE audit_record SET reason = 'x' WHERE seq = 2", {}))
    assert _verify(app)[2].seq == 2


def test_unknown_algorithm_refused(make_app):
    with pytest.raises(ValueError, match="md5"):
        make_app(PERMITS_AUDIT_HASH="md5")


def test_times_are_utc_and_shown_in_shanghai(app):
    import datetime as dt
    with app.app_context():
        stamp = dt.datetime(2026, 12, 3, 16, 30, 0)
        assert audit.format_local(stamp) == "2026-12-04 00:30:00"


WRITERS, PER_WRITER = 8, 15


def test_concurrent_writers_leave_one_chain(any_app):
    start = _fill(any_app, 1)
    errors = []
    barrier = threading.Barrier(WRITERS)

    def writer(k):
        try:
            with any_app.app_context():
                barrier.wait()
                with audit.acting_as(f"writer-{k}", "job"):
                    for i in range(PER_WRITER):
                        audit.record("test.concurrent", obj_type="thing", obj_id=f"{k}-{i}")
                        db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    count, last, problem = _verify(any_app)
    assert problem is None
    assert count == start + WRITERS * PER_WRITER
    with any_app.app_context():
        ids = db.session.execute(text("SELECT obj_id FROM audit_record WHERE action = 'test.concurrent'")).scalars().all()
        assert sorted(ids) == sorted(f"{k}-{i}" for k in range(WRITERS) for i in range(PER_WRITER))
        assert audit.head().seq == count and audit.head().hash == last
        prevs = db.session.execute(text("SELECT prev_hash FROM audit_record")).scalars().all()
        assert len(prevs) == len(set(prevs))   # no fork: no two records share a predecessor


def test_postgresql_refuses_update_and_delete(pg_url, make_app):
    from sqlalchemy.exc import DBAPIError
    from tests.conftest import _reset_pg
    _reset_pg(pg_url)
    app = make_app(SQLALCHEMY_DATABASE_URI=pg_url)
    _fill(app, 2)
    with app.app_context():
        for sql in ("UPDATE audit_record SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_record WHERE seq = 1",
                    "TRUNCATE audit_record", "UPDATE audit_head SET seq = 0 WHERE id = 1",
                    "DELETE FROM audit_head"):
            with db.engine.connect() as conn:
                with pytest.raises(DBAPIError) as info:
                    conn.execute(text(sql))
                    conn.commit()
                assert "refused" in str(info.value)
        assert _verify(app)[2] is None
        assert db.session.get(audit.AuditRecord, 1).actor == "permits-init" or \
            db.session.get(audit.AuditRecord, 1).actor != "x"


def test_edit_with_the_sqlite3_tool_is_caught(app):
    import shutil
    import subprocess
    tool = shutil.which("sqlite3")
    if tool is None:
        pytest.skip("the sqlite3 tool is not installed")
    _fill(app, 4)
    with app.app_context():
        path = db.engine.url.database
        db.session.remove()
        db.engine.dispose()
    subprocess.run([tool, path, "UPDATE audit_record SET reason = 'edited' WHERE seq = 3"], check=True)
    from core.auditcli import audit_cli
    out = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert out.exit_code == 1
    assert "seq 3 (changed)" in out.output
