"""The audit chain: tamper detection, concurrent writers, the PostgreSQL trigger, the CLI.

Every tamper test runs on SQLite and on PostgreSQL.  On PostgreSQL the tests
share one initialised database (initialising one costs far more than the
test): each test appends its own records, tampers only with those, and the
``chain_app`` fixture cuts the chain back to where it was afterwards.  Sequence
numbers in the tests are therefore relative to ``base``, the head before the
test.
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from core import audit
from core.auditcli import audit_cli
from core.extensions import db


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory, pg_url):
    from conftest import _reset_pg, build_app
    _reset_pg(pg_url)
    app = build_app(tmp_path_factory.mktemp("audit_pg"), database_url=pg_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _head(app):
    with app.app_context():
        row = db.session.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
        return row.seq, row.hash


@pytest.fixture(params=["sqlite", "postgresql"])
def chain_app(request, make_app):
    app = request.getfixturevalue("pg_app") if request.param == "postgresql" else make_app()
    base, base_hash = _head(app)
    app.config["TEST_BASE"] = base
    yield app
    # cut the chain back to where it was (as a tamperer could, which is why heads are published)
    _raw(app, ("DELETE FROM audit_record WHERE seq > :b", {"b": base}),
         ("UPDATE audit_head SET seq = :b, hash = :h WHERE id = 1", {"b": base, "h": base_hash}))
    assert _verify(app)[2] is None


def _fill(app, n=6):
    """Append ``n`` records; return the head's sequence number."""
    with app.app_context():
        with audit.acting_as("test-job", "job"):
            for i in range(n):
                audit.record("test.step", obj_type="thing", obj_id=i, obj_bureau="41010201",
                             before={"名称": f"旧值{i}"}, after={"名称": f"测试{i}"})
                db.session.commit()
        return audit.head().seq


def _raw(app, *statements):
    """Run SQL as a tamperer would (on PostgreSQL with the triggers switched off for the moment)."""
    with app.app_context():
        with db.engine.begin() as conn:
            pg = conn.dialect.name == "postgresql"
            if pg:
                conn.execute(text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_change"))
                conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER audit_head_forward"))
            for sql, params in statements:
                conn.execute(text(sql), params)
            if pg:
                conn.execute(text("ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_change"))
                conn.execute(text("ALTER TABLE audit_head ENABLE TRIGGER audit_head_forward"))


def _verify(app, **kw):
    with app.app_context():
        return audit.verify(**kw)


def _problem(app):
    problem = _verify(app)[2]
    assert problem is not None, "the tampering was not noticed"
    return problem.seq, problem.kind


def _row(app, seq):
    with app.app_context():
        rec = db.session.get(audit.AuditRecord, seq)
        return {name: getattr(rec, name) for name in audit.HASHED_FIELDS + ("prev_hash", "hash")}


def test_intact_chain_verifies_and_cli_prints_head(chain_app):
    app = chain_app
    n = _fill(app)
    count, last, problem = _verify(app)
    assert problem is None
    assert count == n
    with app.app_context():
        assert last == audit.head().hash
    runner = app.test_cli_runner()
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


def test_one_changed_byte_is_named(chain_app):
    app, b = chain_app, chain_app.config["TEST_BASE"]
    _fill(app)
    _raw(app, ("UPDATE audit_record SET after = :v WHERE seq = :s",
               {"v": _row(app, b + 4)["after"].replace("测试", "测式"), "s": b + 4}))
    count, _last, problem = _verify(app)
    assert (problem.seq, problem.kind) == (b + 4, "changed")
    assert count == b + 3
    out = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert out.exit_code == 1
    assert f"seq {b + 4} (changed)" in out.output and f"第 {b + 4} 条记录已被修改" in out.output


def test_changed_actor_is_named(chain_app):
    app, b = chain_app, chain_app.config["TEST_BASE"]
    _fill(app)
    _raw(app, ("UPDATE audit_record SET actor = 'someone-else' WHERE seq = :s", {"s": b + 2}))
    assert _problem(app) == (b + 2, "changed")


def test_changed_and_rehashed_record_is_named(chain_app):
    """A tamperer who recomputes the changed record's hash is caught by the next record's link."""
    app, b = chain_app, chain_app.config["TEST_BASE"]
    _fill(app)
    row = _row(app, b + 3)
    row["after"] = row["after"].replace("测试", "伪造")
    new_hash = audit.compute_hash(row, row["prev_hash"])
    _raw(app, ("UPDATE audit_record SET after = :a, hash = :h WHERE seq = :s",
               {"a": row["after"], "h": new_hash, "s": b + 3}))
    assert _problem(app) == (b + 3, "changed")


def test_deleted_record_is_named(chain_app):
    app, b = chain_app, chain_app.config["TEST_BASE"]
    _fill(app)
    _raw(app, ("DELETE FROM audit_record WHERE seq = :s", {"s": b + 3}))
    assert _problem(app) == (b + 3, "missing")


def test_deleted_last_record_is_named(chain_app):
    app = chain_app
    n = _fill(app)
    _raw(app, ("DELETE FROM audit_record WHERE seq = :s", {"s": n}))
    assert _problem(app) == (n, "missing")


def test_deleted_record_with_renumbering_is_named(chain_app):
    app, b = chain_app, chain_app.config["TEST_BASE"]
    n = _fill(app)
    stmts = [("DELETE FROM audit_record WHERE seq = :s", {"s": b + 3})]
    for s in range(b + 4, n + 1):
        stmts.append(("UPDATE audit_record SET seq = :t WHERE seq = :s", {"t": s - 1, "s": s}))
    _raw(app, *stmts)
    assert _problem(app) == (b + 3, "missing")


def _forge(row, seq, prev):
    forged = dict(row)
    forged.update(seq=seq, prev_hash=prev, actor="forger", after='{"名称":"伪造"}')
    forged["hash"] = audit.compute_hash(forged, prev)
    return forged


INSERT = ("INSERT INTO audit_record (seq, at, actor, actor_kind, actor_bureau, client_addr, action, obj_type, "
          "obj_id, obj_bureau, before, after, reason, result, algo, prev_hash, hash) VALUES (:seq, :at, :actor, "
          ":actor_kind, :actor_bureau, :client_addr, :action, :obj_type, :obj_id, :obj_bureau, :before, :after, "
          ":reason, :result, :algo, :prev_hash, :hash)")


def test_forged_record_inserted_in_the_middle_is_named(chain_app):
    """The forger shifts the later records up by one and hashes the forged one correctly."""
    app, b = chain_app, chain_app.config["TEST_BASE"]
    n = _fill(app)
    row3 = _row(app, b + 3)
    shift = 100000
    stmts = [("UPDATE audit_record SET seq = :t WHERE seq = :s", {"t": s + shift, "s": s})
             for s in range(n, b + 3, -1)]
    stmts += [("UPDATE audit_record SET seq = :t WHERE seq = :s", {"t": s + 1, "s": s + shift})
              for s in range(n, b + 3, -1)]
    stmts.append((INSERT, _forge(row3, b + 4, row3["hash"])))
    _raw(app, *stmts)
    assert _problem(app) == (b + 4, "inserted")


def test_forged_record_appended_is_named(chain_app):
    app = chain_app
    n = _fill(app)
    last = _row(app, n)
    _raw(app, (INSERT, _forge(last, n + 1, last["hash"])))
    assert _problem(app) == (n + 1, "inserted")


def test_swapped_records_are_named(chain_app):
    app, b = chain_app, chain_app.config["TEST_BASE"]
    _fill(app)
    _raw(app, ("UPDATE audit_record SET seq = 100002 WHERE seq = :s", {"s": b + 2}),
         ("UPDATE audit_record SET seq = :t WHERE seq = :s", {"t": b + 2, "s": b + 5}),
         ("UPDATE audit_record SET seq = :t WHERE seq = 100002", {"t": b + 5}))
    problem = _verify(app)[2]
    assert (problem.seq, problem.kind) == (b + 2, "reordered")
    assert f"原为第 {b + 5} 条" in problem.detail


def test_rewritten_chain_is_caught_by_a_published_head(chain_app):
    app, b = chain_app, chain_app.config["TEST_BASE"]
    n = _fill(app)
    with app.app_context():
        published = audit.head_line(audit.head())
    # rewrite from record b+2 on, recomputing every hash and the head: only the published head tells
    stmts = []
    prev = _row(app, b + 1)["hash"]
    for s in range(b + 2, n + 1):
        row = _row(app, s)
        row["prev_hash"] = prev
        row["actor"] = "rewriter"
        row["hash"] = audit.compute_hash(row, prev)
        stmts.append(("UPDATE audit_record SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s",
                      {"a": "rewriter", "p": prev, "h": row["hash"], "s": s}))
        prev = row["hash"]
    stmts.append(("UPDATE audit_head SET hash = :h WHERE id = 1", {"h": prev}))
    _raw(app, *stmts)
    assert _verify(app)[2] is None
    problem = _verify(app, expect=audit.parse_head_line(published))[2]
    assert (problem.seq, problem.kind) == (n, "head")
    out = app.test_cli_runner().invoke(audit_cli, ["verify", "--head", published])
    assert out.exit_code == 1 and f"seq {n} (head)" in out.output


WRITERS, PER_WRITER = 8, 15


def test_concurrent_writers_leave_one_chain(chain_app):
    app = chain_app
    start = _fill(app, 1)
    errors = []
    barrier = threading.Barrier(WRITERS)

    def writer(k):
        try:
            with app.app_context():
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
    count, last, problem = _verify(app)
    assert problem is None
    assert count == start + WRITERS * PER_WRITER
    with app.app_context():
        ids = db.session.execute(text("SELECT obj_id FROM audit_record WHERE action = 'test.concurrent'")).scalars().all()
        assert sorted(ids) == sorted(f"{k}-{i}" for k in range(WRITERS) for i in range(PER_WRITER))
        assert audit.head().seq == count and audit.head().hash == last
        prevs = db.session.execute(text("SELECT prev_hash FROM audit_record")).scalars().all()
        assert len(prevs) == len(set(prevs))   # no fork: no two records share a predecessor
        seqs = db.session.execute(text("SELECT seq FROM audit_record ORDER BY seq")).scalars().all()
        assert seqs == list(range(1, count + 1))


def test_postgresql_refuses_update_and_delete(pg_app):
    from sqlalchemy.exc import DBAPIError
    n = _fill(pg_app, 2)
    with pg_app.app_context():
        for sql in ("UPDATE audit_record SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_record WHERE seq = 1",
                    "TRUNCATE audit_record", "UPDATE audit_head SET seq = 0 WHERE id = 1",
                    "DELETE FROM audit_head"):
            with db.engine.connect() as conn:
                with pytest.raises(DBAPIError) as info:
                    conn.execute(text(sql))
                    conn.commit()
                assert "refused" in str(info.value)
        assert db.session.get(audit.AuditRecord, 1).actor != "x"
        assert audit.head().seq == n
    assert _verify(pg_app)[2] is None


def test_sm3_chain(app):
    """Switching to SM3 takes effect for new records; the chain may mix algorithms."""
    app.config["PERMITS_AUDIT_HASH"] = "sm3"
    n = _fill(app, 3)
    with app.app_context():
        assert db.session.get(audit.AuditRecord, n).algo == "sm3"
        assert db.session.get(audit.AuditRecord, 1).algo == "sha256"
        import hashlib
        rec = db.session.get(audit.AuditRecord, n)
        expected = hashlib.new("sm3", audit.canonical(rec).encode() + rec.prev_hash.encode()).hexdigest()
        assert rec.hash == expected
    assert _verify(app)[2] is None
    _raw(app, ("UPDATE audit_record SET reason = 'x' WHERE seq = :s", {"s": n - 1}))
    assert _problem(app) == (n - 1, "changed")


def test_unknown_algorithm_refused(app):
    app.config["PERMITS_AUDIT_HASH"] = "md5"
    with app.app_context(), pytest.raises(ValueError, match="md5"):
        audit.record("x.y")


def test_batch_append(chain_app):
    app = chain_app
    start = _fill(app, 1)
    with app.app_context():
        with audit.acting_as("import-job", "job"):
            recs = audit.record_many([{"action": "permit.import", "obj_type": "thing", "obj_id": i,
                                       "after": {"名称": f"导入{i}"}} for i in range(50)])
            db.session.commit()
        assert [r.seq for r in recs] == list(range(start + 1, start + 51))
        assert audit.head().seq == start + 50 and audit.head().hash == recs[-1].hash
    assert _verify(app)[2] is None
    _fill(app, 1)
    assert _verify(app)[0] == start + 51


def test_times_are_utc_and_shown_in_shanghai():
    import datetime as dt
    assert audit.format_local(dt.datetime(2026, 12, 3, 16, 30, 0)) == "2026-12-04 00:30:00"


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
    out = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert out.exit_code == 1
    assert "seq 3 (changed)" in out.output
