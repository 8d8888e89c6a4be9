"""The audit trail: append-only, hash-chained, written in the change's own transaction.

Every record's hash is SHA-256 (or SM3, ``PERMITS_AUDIT_HASH=sm3``) over a
canonical JSON form of the record plus the previous record's hash.  The
chain head (last sequence number and hash) is one row, ``audit_head``;
appending bumps it with ``UPDATE … RETURNING`` so concurrent writers queue
on that row and can never fork the chain.  The head row is taken as late as
possible -- callers do their slow work first.

:func:`verify` walks the chain and names the first bad record.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app, has_request_context, request
from sqlalchemy import Column, DateTime, Integer, String, Text, select, text, update

from flask_appbuilder import Model

from .extensions import db
from .models import utcnow

GENESIS = "0" * 64
_system_actor: contextvars.ContextVar = contextvars.ContextVar("permits_system_actor", default=None)


class AuditRecord(Model):
    __tablename__ = "audit_record"
    seq = Column(Integer, primary_key=True, autoincrement=False)
    at = Column(DateTime, nullable=False, index=True)
    actor = Column(String(120), nullable=False, index=True)
    actor_kind = Column(String(10), nullable=False)     # user | system | job | anonymous
    actor_bureau = Column(String(8), index=True)
    client_addr = Column(String(64))
    action = Column(String(40), nullable=False, index=True)
    obj_type = Column(String(40), index=True)
    obj_id = Column(String(64), index=True)
    obj_bureau = Column(String(8), index=True)
    before = Column(Text)
    after = Column(Text)
    reason = Column(Text)
    result = Column(String(10), nullable=False, default="success")
    algo = Column(String(8), nullable=False)
    prev_hash = Column(String(64), nullable=False)
    hash = Column(String(64), nullable=False, unique=True)


class AuditHead(Model):
    __tablename__ = "audit_head"
    id = Column(Integer, primary_key=True)
    seq = Column(Integer, nullable=False, default=0)
    hash = Column(String(64), nullable=False, default=GENESIS)
    at = Column(DateTime)


HASHED_FIELDS = ("seq", "at", "actor", "actor_kind", "actor_bureau", "client_addr", "action", "obj_type",
                 "obj_id", "obj_bureau", "before", "after", "reason", "result", "algo")


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def dumps(value) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default)


def canonical(rec) -> str:
    data = {name: getattr(rec, name) for name in HASHED_FIELDS}
    data["at"] = rec.at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def compute_hash(rec, prev_hash: str) -> str:
    digest = hashlib.new(rec.algo)
    digest.update(canonical(rec).encode("utf-8"))
    digest.update(prev_hash.encode("ascii"))
    return digest.hexdigest()


@contextlib.contextmanager
def acting_as(name: str, kind: str = "job", bureau: str | None = None):
    """Attribute writes in this block to an external system or a named job."""
    token = _system_actor.set((name, kind, bureau))
    try:
        yield
    finally:
        _system_actor.reset(token)


def current_actor_identity():
    """(actor, kind, bureau) of the write being made; never empty."""
    forced = _system_actor.get()
    if forced:
        return forced
    from .scope import current_actor
    user = current_actor()
    if user is not None:
        return user.username, "user", getattr(user, "bureau_code", None)
    if has_request_context():
        return "anonymous", "anonymous", None
    return "cli", "job", None


def client_address():
    if not has_request_context():
        return None
    return request.remote_addr


def record(action: str, *, obj_type: str | None = None, obj_id=None, obj_bureau=None, before=None,
           after=None, reason=None, result="success", actor=None, session=None) -> AuditRecord:
    """Append a record to the chain in the current transaction (the caller commits)."""
    session = session or db.session
    name, kind, bureau = actor or current_actor_identity()
    algo = (current_app.config.get("PERMITS_AUDIT_HASH") or "sha256").lower()
    rec = AuditRecord(
        at=utcnow(), actor=name, actor_kind=kind, actor_bureau=bureau, client_addr=client_address(),
        action=action, obj_type=obj_type, obj_id=None if obj_id is None else str(obj_id),
        obj_bureau=obj_bureau, before=dumps(before), after=dumps(after), reason=reason, result=result,
        algo=algo,
    )
    # the hot row: taken last, held until the caller's commit
    seq, prev = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)).one()
    rec.seq = seq
    rec.prev_hash = prev
    rec.hash = compute_hash(rec, prev)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=rec.hash, at=rec.at))
    session.add(rec)
    return rec


def ensure_head(session=None) -> None:
    session = session or db.session
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        session.flush()


def head(session=None) -> AuditHead:
    session = session or db.session
    return session.get(AuditHead, 1)


@dataclass
class Problem:
    seq: int
    kind: str          # changed | missing | inserted | reordered
    detail: str

    def __str__(self):
        names = {"changed": "已被修改", "missing": "缺失", "inserted": "被插入", "reordered": "顺序被调换"}
        return f"第 {self.seq} 条记录{names.get(self.kind, self.kind)}：{self.detail}"


def verify(session=None, batch: int = 5000):
    """Walk the chain; return ``(count, head_hash, problem or None)``."""
    session = session or db.session
    the_head = head(session)
    expected_seq, prev = 1, GENESIS
    count = 0
    last_id = 0
    hashes_seen = {}
    while True:
        rows = session.execute(select(AuditRecord).where(AuditRecord.seq > last_id)
                               .order_by(AuditRecord.seq).limit(batch)).scalars().all()
        if not rows:
            break
        for rec in rows:
            last_id = rec.seq
            if rec.seq != expected_seq:
                return count, prev, Problem(expected_seq, "missing",
                                            f"序号 {expected_seq} 的记录不存在（下一条是 {rec.seq}）")
            recomputed = compute_hash(rec, rec.prev_hash)
            if rec.prev_hash != prev:
                if rec.prev_hash in hashes_seen or recomputed == rec.hash:
                    return count, prev, Problem(rec.seq, "reordered" if rec.prev_hash in hashes_seen else "inserted",
                                                "前一条哈希与链不符")
                return count, prev, Problem(rec.seq, "changed", "前一条哈希与链不符")
            if recomputed != rec.hash:
                # was this record moved here from another place in the chain?
                original_seq = rec.seq
                for other in range(max(1, rec.seq - 50), rec.seq + 51):
                    rec.seq = other
                    if compute_hash(rec, rec.prev_hash) == rec.hash:
                        rec.seq = original_seq
                        session.expunge(rec)
                        return count, prev, Problem(original_seq, "reordered",
                                                    f"该记录原为第 {other} 条")
                rec.seq = original_seq
                session.expunge(rec)
                return count, prev, Problem(rec.seq, "changed", "内容与其哈希不符")
            hashes_seen[rec.hash] = rec.seq
            prev = rec.hash
            expected_seq += 1
            count += 1
        session.expunge_all()
    if the_head is not None:
        if the_head.seq > count:
            return count, prev, Problem(count + 1, "missing", f"链头记载 {the_head.seq} 条，实有 {count} 条")
        if the_head.seq < count:
            return count, prev, Problem(the_head.seq + 1, "inserted", f"链头只记载 {the_head.seq} 条")
        if the_head.hash != prev:
            return count, prev, Problem(count, "changed", "链头哈希与最后一条记录不符")
    return count, prev, None


PG_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_record is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_record_no_change ON audit_record;
CREATE TRIGGER audit_record_no_change BEFORE UPDATE OR DELETE ON audit_record
  FOR EACH ROW EXECUTE FUNCTION audit_record_append_only();
"""


def install_pg_trigger(connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(PG_TRIGGER))
