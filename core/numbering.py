"""Unified numbering (统一配号): issuing and changing permits.

A certificate number is ``{prefix}字第{6-digit division code}{YYYY}{type letters}{7-digit serial}号``,
e.g. ``地字第4101022025YG0000001号``.  The serial comes from one counter row
per (scope, type letters, year, trial) in ``number_counter``; the scope is
``province`` (one counter for the whole province, the default) or the
issuing bureau's 6-digit code (``PERMITS_TYPE_SCOPE = "division"``).

Allocation is one atomic statement inside the issuing transaction,
``INSERT INTO number_counter … VALUES (…, 1) ON CONFLICT (…) DO UPDATE SET
value = number_counter.value + 1 RETURNING value`` -- the same statement on
SQLite and PostgreSQL, which creates a counter at its first use; never
``MAX()+1`` and never a database sequence (which would skip a value on
rollback).  The row lock is held until commit, so a rolled-back or killed
issue leaves neither a duplicate nor a gap, and the UNIQUE constraint on
``permit.number`` guards the rest.  Counters only ever go up: a number is
never reused, not after revocation either.

Trial numbers (issued before ``PERMITS_GO_LIVE``) come from a counter of
their own and live in the serial range ``9000001…9999999``; formal serials
stop at ``8999999``.  A trial number can therefore never equal a formal one,
and the number itself tells which it is.

Issuing follows the "two hot rows" rule (``docs``/design notes): everything
that can fail or is slow runs first -- the declaration's validation, the
checks in :data:`PRE_ISSUE_CHECKS`, the font coverage of every printed
character, the digest of the printed fields -- on the record as stored,
read again under its own row lock (every write to a permit takes that lock
first, see :func:`core.records.lock_row`).  Then two round trips: one takes
the two hot rows (counter, chain head); the number is formatted and signed
and the audit record hashed in process; the second sends the permit's row,
the audit record and the ``COMMIT`` together.  The PDF is rendered after
the commit, at first print.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from flask import current_app
from flask_appbuilder import Model
from flask_babel import gettext as _
from sqlalchemy import Boolean, Column, Integer, String, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from . import audit, records, signing
from .clock import local_today
from .dbsetup import one_round_trip, run_together
from .extensions import db
from .models import (STATUS_CHANGED, STATUS_DRAFT, STATUS_ISSUED, STATUSES, Bureau, Permit, _current_user_id,
                     utcnow)

__all__ = ["NumberCounter", "format_number", "parse_number", "NumberParts", "issue_permit",
           "change_permit", "IssueError", "PRE_ISSUE_CHECKS", "is_trial", "local_today"]

#: Callables ``check(permit, ptype)`` (or ``check(permit)``) run before a number is assigned
#: (issue and change).  Each returns ``None``/empty when the permit may be issued, else a
#: mapping ``{field name or "_": Chinese message}`` or a list of messages; raising
#: ``ValueError(message)`` refuses too.  For a change
#: the permit is the new version (``previous_id`` names the version it replaces).
PRE_ISSUE_CHECKS: list = []

FORMAL_MAX = 8_999_999
TRIAL_BASE = 9_000_000
TRIAL_MAX = 999_999

NUMBER_RE = re.compile(r"^(?P<prefix>\S)字第(?P<division>\d{6})(?P<year>\d{4})(?P<letters>[A-Z]{2})"
                       r"(?P<serial>\d{7})号$")


class NumberCounter(Model):
    """One row per (scope, type letters, year, trial): the last serial handed out."""

    __tablename__ = "number_counter"
    scope_key = Column(String(12), primary_key=True)   # "province" or a 6-digit division code
    letters = Column(String(2), primary_key=True)
    year = Column(Integer, primary_key=True, autoincrement=False)
    trial = Column(Boolean, primary_key=True)
    value = Column(Integer, nullable=False, default=0)


@dataclass(frozen=True)
class NumberParts:
    prefix: str
    division: str
    year: int
    letters: str
    serial: int

    @property
    def trial(self) -> bool:
        return self.serial > FORMAL_MAX

    def __str__(self):
        return format_number(self.prefix, self.division, self.year, self.letters, self.serial)


def format_number(prefix: str, division: str, year: int, letters: str, serial: int) -> str:
    """``地字第4101022025YG0000001号`` from its parts (checked)."""
    if len(prefix) != 1:
        raise ValueError("prefix must be one character")
    if not re.fullmatch(r"\d{6}", division or ""):
        raise ValueError(f"division code {division!r} must be 6 digits")
    if not 1000 <= int(year) <= 9999:
        raise ValueError(f"year {year!r} must have 4 digits")
    if not re.fullmatch(r"[A-Z]{2}", letters or ""):
        raise ValueError(f"type letters {letters!r} must be two capitals")
    if not 1 <= int(serial) <= 9_999_999:
        raise ValueError(f"serial {serial!r} must be 1..9999999")
    return f"{prefix}字第{division}{int(year):04d}{letters}{int(serial):07d}号"


def parse_number(text: str) -> NumberParts:
    """The parts of a number; ValueError when it does not have the national form."""
    m = NUMBER_RE.match((text or "").strip())
    if not m or int(m.group("serial")) == 0:
        raise ValueError(f"not a certificate number: {text!r}")
    return NumberParts(m.group("prefix"), m.group("division"), int(m.group("year")), m.group("letters"),
                       int(m.group("serial")))


class IssueError(ValueError):
    """Issuing was refused; ``errors`` maps a field name (or ``"_"``) to a Chinese message.

    ``conflict`` is true when the record's state forbids it (not a draft, not
    issued, or changed by someone else meanwhile): the API answers 409.
    """

    def __init__(self, errors: dict, conflict: bool = False):
        self.errors = dict(errors)
        self.conflict = conflict
        super().__init__("; ".join(str(v) for v in self.errors.values()))

    @property
    def messages(self) -> list[str]:
        return [str(v) for v in self.errors.values()]


def go_live_date(app=None):
    value = (app or current_app).config.get("PERMITS_GO_LIVE")
    if isinstance(value, str) and value:
        return dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value or None


def is_trial(day: dt.date, app=None) -> bool:
    """Before the go-live date numbers are trial numbers (no go-live date: formal from the start)."""
    live = go_live_date(app)
    return live is not None and day < live


def scope_key(bureau: Bureau, app=None) -> str:
    scope = ((app or current_app).config.get("PERMITS_TYPE_SCOPE") or "province").lower()
    return bureau.number_code if scope == "division" else "province"


def ensure_counter(session, key: str, letters: str, year: int, trial: bool) -> None:
    """Create the counter row if it is missing (issuing does not need this: it creates its row)."""
    values = dict(scope_key=key, letters=letters, year=year, trial=trial, value=0)
    dialect = session.get_bind().dialect.name
    make = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if make is None:
        raise RuntimeError(f"numbering supports PostgreSQL and SQLite, not {dialect}")
    session.connection().execute(make(NumberCounter.__table__).values(**values).on_conflict_do_nothing())


def _bump(make):
    """``INSERT … ON CONFLICT DO UPDATE SET value = value + 1 RETURNING value``: the counter row,
    created at its first use, bumped and locked until commit, in one statement."""
    table = NumberCounter.__table__
    return (make(table)
            .values(scope_key=bindparam("k"), letters=bindparam("l"), year=bindparam("y"), trial=bindparam("t"),
                    value=1)
            .on_conflict_do_update(index_elements=list(table.primary_key.columns),
                                   set_={"value": table.c.value + 1})
            .returning(table.c.value))


# built once: no statement building while the row is locked
_BUMPS = {"postgresql": _bump(postgresql.insert), "sqlite": _bump(sqlite.insert)}


def _bump_statement(session, key: str, letters: str, year: int, trial: bool) -> tuple:
    dialect = session.get_bind().dialect.name
    if dialect not in _BUMPS:
        raise RuntimeError(f"numbering supports PostgreSQL and SQLite, not {dialect}")
    return _BUMPS[dialect], {"k": key, "l": letters, "y": year, "t": trial}


def _serial_for(trial: bool, value: int) -> int:
    """The serial for a counter value just drawn (trial serials live above FORMAL_MAX)."""
    if trial:
        if value > TRIAL_MAX:
            raise IssueError({"_": _("The trial numbers of this year are used up")})
        return TRIAL_BASE + value
    if value > FORMAL_MAX:
        raise IssueError({"_": _("The numbers of this year are used up")})
    return value


# --- validation before the hot rows -----------------------------------------------------------

def _field_values(ptype, permit) -> dict:
    return {f.name: getattr(permit, f.name, None) for f in ptype.all_fields}


def _run_checks(ptype, permit) -> dict:
    from . import certificates
    _, errors = ptype.clean(_field_values(ptype, permit))
    for check in list(PRE_ISSUE_CHECKS):
        try:
            found = check(permit, ptype) if _arity(check) >= 2 else check(permit)
        except ValueError as exc:       # a check may also refuse by raising ValueError(message)
            found = [str(exc)]
        if not found:
            continue
        if isinstance(found, dict):
            for key, msg in found.items():
                errors.setdefault(key, str(msg))
        else:
            for i, msg in enumerate(found):
                errors.setdefault(f"_{i}" if errors.get("_") else "_", str(msg))
    if not errors:
        errors.update(certificates.glyph_problems(ptype, permit))
    return errors


def _arity(func) -> int:
    import inspect
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _ptype_of(permit):
    return current_app.extensions["permits"].registry[permit.type_code]


@dataclass
class Issued:
    permit: object
    number: str
    url: str
    trial: bool


def _assign(session, permit, ptype, bureau, today, digest, action, before=None, reason=None, extra=None):
    """The hot part: counter, audit head, number, signature, hook -- then the writes.

    Returns the writes as a callable ``writes(execute)``: they are statements
    that return nothing, so :func:`_hot_transaction` sends them with the COMMIT in one
    round trip where the driver can.  While the two hot rows are held there
    is no ORM work and no statement building, only these statements.
    ``extra`` holds further ``(id, values)`` permit-row writes of the same
    transaction (a change marks the old version).

    When a plugin implements ``on_permit_issued``, the chain head is taken
    after the hook instead (one more round trip), so audit records the hook
    writes itself come before this one in the chain.
    """
    trial = is_trial(today)
    key = scope_key(bureau)
    now = utcnow()
    changed_by = _current_user_id()
    append = audit.Append(session)
    hook = current_app.extensions["permits"].pm.hook.on_permit_issued
    hooked = bool(hook.get_hookimpls())
    # one round trip: the two hot rows (the permit's own row is locked already)
    rows = run_together(session, [_bump_statement(session, key, ptype.letters, today.year, trial)]
                        + ([] if hooked else [append.take_statement(1)]))
    serial = _serial_for(trial, rows[0][0][0])
    number = format_number(ptype.prefix_char, bureau.number_code, today.year, ptype.letters, serial)
    values = dict(serial=serial, trial=trial, number=number, issued_on=today, issued_at=now,
                  status=STATUS_ISSUED, digest=digest, changed_on=now, changed_by_fk=changed_by,
                  payload=signing.sign_number(number, permit.bureau_code, today, digest, current_app.instance_path))
    for name, value in values.items():
        set_committed_value(permit, name, value)
    if hooked:
        hook(permit=permit, permit_type=ptype)
        session.flush()             # whatever the hook added, before the writes below
        append.take(1)
    else:
        append.took(1, rows[1][0])
    entry = dict(action=action, obj_type=ptype.code, obj_id=permit.id, obj_bureau=permit.bureau_code,
                 before=before, reason=reason,
                 after={"number": number, "issued_on": today.isoformat(), "trial": trial,
                        "digest": digest, "version": permit.version})

    def writes(execute):
        for other_id, other_values in extra or ():
            execute(_permit_update(tuple(other_values)), {**other_values, "_id": other_id})
        execute(_permit_update(tuple(values)), {**values, "_id": permit.id})
        append.write([entry], execute)

    return writes


@functools.lru_cache(maxsize=None)
def _permit_update(names: tuple):
    table = Permit.__table__
    return update(table).where(table.c.id == bindparam("_id")).values({name: bindparam(name) for name in names})


def _lock_fresh(session, permit, expected_status: str) -> None:
    """Lock the record's row, then read it afresh: what is checked, signed and printed is what
    is stored, and no edit can slip in before the commit (edits take the same lock first)."""
    session.flush()
    status = records.lock_row(permit, session)
    if status != expected_status:
        raise IssueError({"status": records.changed_meanwhile()}, conflict=True)
    session.refresh(permit)


def verification_url(permit) -> str:
    return signing.verification_url(current_app.config.get("PERMITS_BASE_URL", ""), permit.payload)


def issue_permit(permit, *, session=None, today: dt.date | None = None, commit: bool = True) -> Issued:
    """Issue a draft: validate, then number, sign, audit and commit in one transaction.

    Raises :class:`IssueError` (nothing written, nothing numbered) when the
    record cannot be issued.
    """
    session = session or db.session
    ptype = _ptype_of(permit)
    if permit.status != STATUS_DRAFT:
        raise IssueError({"status": _("Only drafts can be issued; this permit is %(status)s",
                                      status=STATUSES.get(permit.status, permit.status))}, conflict=True)
    try:
        _lock_fresh(session, permit, STATUS_DRAFT)
        errors = _run_checks(ptype, permit)
        if errors:
            raise IssueError(errors)
    except BaseException:
        session.rollback()          # the record's lock goes with it
        raise
    today = today or local_today()
    digest = signing.digest_of(ptype, permit)
    bureau = session.get(Bureau, permit.bureau_code)

    def work():
        writes = _assign(session, permit, ptype, bureau, today, digest, "permit.issue")
        return Issued(permit, permit.number, verification_url(permit), permit.trial), writes

    return _hot_transaction(session, work, commit)


def change_permit(permit, new_values: dict, *, session=None, today: dt.date | None = None,
                  reason: str | None = None, commit: bool = True) -> Issued:
    """变更: a new version with its own new number; the old one becomes 已变更.

    ``new_values`` holds raw values of the declared fields that change.
    """
    session = session or db.session
    ptype = _ptype_of(permit)
    if permit.status != STATUS_ISSUED:
        raise IssueError({"status": _("Only issued permits can be changed; this permit is %(status)s",
                                      status=STATUSES.get(permit.status, permit.status))}, conflict=True)
    known = {f.name for f in ptype.all_fields}
    unknown = sorted(set(new_values) - known)
    if unknown:
        raise IssueError({name: _("Unknown field %(name)s", name=name) for name in unknown})
    cleaned, errors = ptype.clean(new_values, partial=True)
    if errors:
        raise IssueError(errors)
    values = _field_values(ptype, permit)
    changed = {k: v for k, v in cleaned.items() if values.get(k) != v}
    if not changed:
        raise IssueError({"_": _("Nothing was changed")})
    values.update(changed)
    model = type(permit)
    new = model(**values)
    new.bureau_code = permit.bureau_code
    new.status = STATUS_DRAFT
    new.version = (permit.version or 1) + 1
    new.previous_id = permit.id
    errors = _run_checks(ptype, new)
    if errors:
        session.rollback()
        raise IssueError(errors)
    today = today or local_today()
    digest = signing.digest_of(ptype, new)
    bureau = session.get(Bureau, permit.bureau_code)

    def work():
        if records.lock_row(permit, session) != STATUS_ISSUED:
            raise IssueError({"status": records.changed_meanwhile()}, conflict=True)
        session.add(new)
        session.flush()
        old_values = {"status": STATUS_CHANGED, "changed_on": utcnow(), "changed_by_fk": _current_user_id()}
        before = {"number": permit.number, "version": permit.version,
                  "fields": {k: ptype.field(k).display(getattr(permit, k)) for k in changed}}
        writes = _assign(session, new, ptype, bureau, today, digest, "permit.change", before=before,
                         reason=reason, extra=[(permit.id, old_values)])
        for name, value in old_values.items():
            set_committed_value(permit, name, value)
        return Issued(new, new.number, verification_url(new), new.trial), writes

    return _hot_transaction(session, work, commit)


def _hot_transaction(session, work, commit: bool):
    """Run the hot part of an issue or change; commit, or roll everything back (number included).

    ``work()`` takes the hot rows and returns ``(result, writes)``; the writes
    and the COMMIT go to the database in one round trip where the driver can
    (:func:`core.dbsetup.one_round_trip`), so the hot rows are held for two
    round trips, as in a bare ``UPDATE … RETURNING; COMMIT`` (with more work
    in each).
    """
    try:
        result, writes = work()
        with one_round_trip(session) as execute:
            writes(execute)
            if commit:
                session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def successor(permit, session=None):
    """The version that replaced ``permit`` (or None)."""
    from .models import Permit
    session = session or db.session
    return session.query(Permit).filter(Permit.previous_id == permit.id).order_by(Permit.id.desc()).first()
