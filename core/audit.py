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
from types import SimpleNamespace
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app, has_request_context, request
from sqlalchemy import Column, DateTime, Integer, String, Text, bindparam, insert, select, text, update

from flask_appbuilder import Model

from . import clock
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


ALGORITHMS = ("sha256", "sm3")


def to_local(value: dt.datetime | None) -> dt.datetime | None:
    """A stored (naive UTC) time as an aware local (Asia/Shanghai) time."""
    return clock.to_local(value)


def format_local(value: dt.datetime | None, seconds: bool = True) -> str:
    return clock.format_local(value, "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


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


def loads(text_value):
    if text_value is None:
        return None
    try:
        return json.loads(text_value)
    except ValueError:
        return text_value


def _field(rec, name):
    return rec[name] if isinstance(rec, dict) else getattr(rec, name)


def canonical(rec) -> str:
    """The canonical JSON form of a record (object, mapping or row): sorted keys, no spaces, UTF-8."""
    data = {name: _field(rec, name) for name in HASHED_FIELDS}
    data["at"] = data["at"].strftime("%Y-%m-%dT%H:%M:%S.%f")
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def new_digest(algo: str):
    algo = (algo or "sha256").lower()
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown audit hash algorithm {algo!r} (use sha256 or sm3)")
    try:
        return hashlib.new(algo)
    except ValueError:
        if algo == "sm3":  # an OpenSSL without SM3: the pure-Python implementation of gmssl
            return _GmsslSm3()
        raise


class _GmsslSm3:
    def __init__(self):
        self._data = bytearray()

    def update(self, data: bytes):
        self._data.extend(data)

    def hexdigest(self) -> str:
        from gmssl import sm3, func  # optional dependency
        return sm3.sm3_hash(func.bytes_to_list(bytes(self._data)))


def compute_hash(rec, prev_hash: str) -> str:
    digest = new_digest(_field(rec, "algo"))
    digest.update(canonical(rec).encode("utf-8"))
    digest.update(prev_hash.encode("ascii"))
    return digest.hexdigest()


def configured_algorithm() -> str:
    algo = (current_app.config.get("PERMITS_AUDIT_HASH") or "sha256").lower()
    new_digest(algo)  # fail loudly on a misconfiguration, before anything is written
    return algo


@contextlib.contextmanager
def acting_as(name: str, kind: str = "job", bureau: str | None = None):
    """Attribute writes in this block to an external system (``kind="system"``) or a named job."""
    if not name:
        raise ValueError("an actor needs a name")
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
           after=None, reason=None, result="success", actor=None, session=None):
    """Append a record to the chain in the current transaction (the caller commits).

    The chain head row is locked by the first statement here and held until
    the caller's COMMIT (or released by its ROLLBACK, which also takes the
    record back): call this as late as possible, just before committing.
    The record's time is taken *after* the lock, so times never run
    backwards along the chain.
    """
    if result not in ("success", "refused", "failure"):
        raise ValueError(f"unknown result {result!r}")
    return record_many([dict(action=action, obj_type=obj_type, obj_id=obj_id, obj_bureau=obj_bureau,
                             before=before, after=after, reason=reason, result=result)],
                       actor=actor, session=session)[0]


def record_many(entries: list[dict], *, actor=None, session=None) -> list:
    """Append several records at once (bulk imports): one head bump and one INSERT for the batch.

    Each entry holds the keyword arguments of :func:`record` (``action``,
    ``obj_type``, ``obj_id``, ``obj_bureau``, ``before``, ``after``, ``reason``,
    ``result``); every record is exactly what :func:`record` would write.
    Returns the written rows (attribute access: ``seq``, ``hash`` …).
    """
    if not entries:
        return []
    append = Append(session, actor=actor)
    append.take(len(entries))
    return append.write(entries)


class Append:
    """An append in two steps, for callers that hold other hot rows (issuing)::

        append = Append(session)     # who, algorithm, client address: before any lock
        append.take(n)               # the head row: bumped, read and locked until COMMIT
        rows = append.write(entries) # hashed and written by statements that return nothing,
                                     # so a driver may send them with the COMMIT in one round trip

    Everything is Core statements on the session's connection: no ORM
    bookkeeping and no autoflush while the head row is held.
    """

    def __init__(self, session=None, *, actor=None):
        self.session = session or db.session
        self.name, self.kind, self.bureau = actor or current_actor_identity()
        if not self.name:
            raise ValueError("an audit record needs an actor")
        self.algo = configured_algorithm()
        self.client = client_address()
        self.end = self.prev = None

    def take(self, n: int) -> None:
        self.took(n, self.session.connection().execute(*self.take_statement(n)).one())

    @staticmethod
    def take_statement(n: int) -> tuple:
        """The head bump as ``(statement, params)``, for a caller that sends it with its own."""
        return _HEAD_BUMP, {"n": n}

    def took(self, n: int, row) -> None:
        """Record the head bump's returned row (last sequence number, previous hash)."""
        self.n = n
        self.end, self.prev = row

    def write(self, entries: list[dict], execute=None) -> list:
        """Hash and write ``entries`` (as many as taken); ``execute(statement, params)`` runs the
        two statements (default: on the session's connection)."""
        if self.end is None or len(entries) != self.n:
            raise RuntimeError("take(n) the head for exactly the entries written")
        at = utcnow()        # after the lock: times never run backwards along the chain
        prev = self.prev
        out = []
        for offset, e in enumerate(entries, start=self.end - self.n + 1):
            obj_id = e.get("obj_id")
            rec = SimpleNamespace(seq=offset, at=at, actor=str(self.name), actor_kind=self.kind,
                                  actor_bureau=self.bureau, client_addr=self.client, action=e["action"],
                                  obj_type=e.get("obj_type"), obj_id=None if obj_id is None else str(obj_id),
                                  obj_bureau=e.get("obj_bureau"), before=dumps(e.get("before")),
                                  after=dumps(e.get("after")), reason=e.get("reason"),
                                  result=e.get("result", "success"), algo=self.algo)
            rec.prev_hash = prev
            rec.hash = prev = compute_hash(rec, prev)
            out.append(rec)
        rows = [vars(r) for r in out]
        execute = execute or self.session.connection().execute
        execute(_INSERT, rows[0] if len(rows) == 1 else rows)
        execute(_HEAD_SET, {"h": prev, "a": at})
        self.end = None
        return out


# statements built once (building a statement costs more than running it)
_head = AuditHead.__table__
_HEAD_BUMP = (update(_head).where(_head.c.id == 1).values(seq=_head.c.seq + bindparam("n"))
              .returning(_head.c.seq, _head.c.hash))
_HEAD_SET = update(_head).where(_head.c.id == 1).values(hash=bindparam("h"), at=bindparam("a"))
_INSERT = insert(AuditRecord.__table__)


def ensure_head(session=None) -> None:
    session = session or db.session
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        session.flush()


def head(session=None) -> AuditHead:
    session = session or db.session
    return session.get(AuditHead, 1)


KINDS = {"changed": "已被修改", "missing": "缺失", "inserted": "被插入", "reordered": "顺序被调换",
         "head": "与公布的链头不符"}


@dataclass
class Problem:
    seq: int
    kind: str          # changed | missing | inserted | reordered | head
    detail: str

    def __str__(self):
        return f"第 {self.seq} 条记录{KINDS.get(self.kind, self.kind)}：{self.detail}"


def _columns():
    return [AuditRecord.__table__.c[name] for name in HASHED_FIELDS + ("prev_hash", "hash")]


def _row_dict(row) -> dict:
    return dict(row._mapping)


def _original_seq(session, rec: dict, expected: int, window: int = 50):
    """The sequence number ``rec`` was hashed with, if it is not ``expected``; else None.

    The record's own ``prev_hash`` names its original predecessor; failing
    that, nearby numbers are tried.
    """
    candidates = []
    if rec["prev_hash"] == GENESIS:
        candidates.append(1)
    else:
        pred = session.execute(select(AuditRecord.seq).where(AuditRecord.hash == rec["prev_hash"])).scalar()
        if pred is not None:
            candidates.append(pred + 1)
    candidates += [s for s in range(max(1, expected - window), expected + window + 1)]
    probe = dict(rec)
    for other in candidates:
        if other == expected:
            continue
        probe["seq"] = other
        if compute_hash(probe, rec["prev_hash"]) == rec["hash"]:
            return other
    return None


def _classify(session, rec: dict, position: int, prev: str, seen: dict, head_seq):
    """What is wrong with ``rec`` at ``position`` of the chain (None when it fits)."""
    self_ok = compute_hash(rec, rec["prev_hash"]) == rec["hash"]
    if not self_ok:
        if head_seq is not None and position > head_seq:
            return Problem(position, "inserted", f"链头只记载 {head_seq} 条，此记录在链头之后且哈希不符")
        original = _original_seq(session, rec, position)
        if original is not None:
            pred_seq = 0 if rec["prev_hash"] == GENESIS else session.execute(
                select(AuditRecord.seq).where(AuditRecord.hash == rec["prev_hash"])).scalar()
            pred_exists = pred_seq is not None
            if original < position and pred_seq == original - 1 and seen.get(rec["prev_hash"], 0) == pred_seq:
                # its predecessor is still in place: what now stands between them was slipped in
                where = f"第 {original} 条" if original == position - 1 else f"第 {original}–{position - 1} 条"
                return Problem(original, "inserted",
                               f"{where}不属于原链（此记录原为第 {original} 条，后面的记录被顺延）")
            if not pred_exists:
                return Problem(position, "missing",
                               f"此处原有的记录被删除，后面的记录被重新编号（此记录原为第 {original} 条）")
            return Problem(position, "reordered", f"此记录原为第 {original} 条")
        return Problem(position, "changed", "内容与其哈希不符")
    if rec["prev_hash"] != prev:
        back = seen.get(rec["prev_hash"])
        if back is not None and back == position - 2:
            return Problem(position - 1, "inserted",
                           f"第 {position} 条记载的前一条是第 {back} 条，第 {position - 1} 条不属于原链")
        if back is not None or (rec["prev_hash"] == GENESIS and position > 1):
            return Problem(position, "reordered", "前一条哈希指向链中更早的位置")
        if position == 1:
            return Problem(1, "changed", "第一条记录的前一条哈希不是起始值")
        return Problem(position - 1, "changed",
                       f"第 {position - 1} 条的哈希与第 {position} 条记载的不符（内容被改动并重算了哈希）")
    return None


def verify(session=None, batch: int = 5000, expect: tuple[int, str] | None = None):
    """Walk the chain; return ``(count, head_hash, problem or None)``.

    ``expect=(seq, hash)`` also checks a head published earlier (``permits
    audit head``): the record ``seq`` must still carry that hash, which
    catches even a chain rewritten from some point on with hashes recomputed.
    """
    session = session or db.session
    the_head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    head_seq = the_head.seq if the_head is not None else None
    expected_seq, prev = 1, GENESIS
    count = 0
    last_id = 0
    seen: dict[str, int] = {}
    expect_found = False
    while True:
        rows = session.execute(select(*_columns()).where(AuditRecord.seq > last_id)
                               .order_by(AuditRecord.seq).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            rec = _row_dict(row)
            last_id = rec["seq"]
            if rec["seq"] != expected_seq:
                if head_seq is not None and expected_seq > head_seq:
                    return count, prev, Problem(expected_seq, "inserted",
                                                f"链头只记载 {head_seq} 条，其后出现第 {rec['seq']} 条")
                missing = (f"第 {expected_seq} 条" if rec["seq"] == expected_seq + 1
                           else f"第 {expected_seq}–{rec['seq'] - 1} 条")
                return count, prev, Problem(expected_seq, "missing", f"{missing}记录不存在（下一条是第 {rec['seq']} 条）")
            problem = _classify(session, rec, expected_seq, prev, seen, head_seq)
            if problem is not None:
                return count, prev, problem
            if expect and rec["seq"] == expect[0]:
                expect_found = True
                if rec["hash"] != expect[1]:
                    return count, prev, Problem(rec["seq"], "head", "此记录的哈希与公布的链头哈希不同，链已被改写")
            seen[rec["hash"]] = rec["seq"]
            prev = rec["hash"]
            expected_seq += 1
            count += 1
    if the_head is not None:
        if the_head.seq > count:
            return count, prev, Problem(count + 1, "missing", f"链头记载 {the_head.seq} 条，实有 {count} 条")
        if the_head.seq < count:
            return count, prev, Problem(the_head.seq + 1, "inserted", f"链头只记载 {the_head.seq} 条")
        if the_head.hash != prev:
            return count, prev, Problem(count, "changed", "链头哈希与最后一条记录不符")
    if expect and not expect_found:
        return count, prev, Problem(expect[0], "missing", "公布的链头所指的记录不存在")
    return count, prev, None


def head_line(the_head) -> str:
    """One line that can be published or countersigned, and checked by ``permits audit verify --head``."""
    at = the_head.at.strftime("%Y-%m-%dT%H:%M:%SZ") if the_head.at else "-"
    algo = (current_app.config.get("PERMITS_AUDIT_HASH") or "sha256").lower() if the_head.seq else "sha256"
    if the_head.seq:
        last = db.session.get(AuditRecord, the_head.seq)
        if last is not None:
            algo = last.algo
    return f"permits-audit-head:v1:{the_head.seq}:{algo}:{the_head.hash}:{at}"


def parse_head_line(value: str) -> tuple[int, str]:
    """(seq, hash) from a published head line, or from ``SEQ:HASH``."""
    parts = value.strip().split(":")
    if parts[0] == "permits-audit-head" and len(parts) >= 5:
        return int(parts[2]), parts[4]
    if len(parts) == 2:
        return int(parts[0]), parts[1]
    raise ValueError("expected permits-audit-head:v1:SEQ:ALGO:HASH:TIME or SEQ:HASH")


PG_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_record is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_record_no_change ON audit_record;
CREATE TRIGGER audit_record_no_change BEFORE UPDATE OR DELETE ON audit_record
  FOR EACH ROW EXECUTE FUNCTION audit_record_append_only();
DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record;
CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record
  FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only();
CREATE OR REPLACE FUNCTION audit_head_forward_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq THEN
    RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_head_forward ON audit_head;
CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
  FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();
"""


def install_pg_trigger(connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(PG_TRIGGER))
