"""Writing permit records with their audit trail, for every path (pages, API, imports, pushes)."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy import inspect as sa_inspect

from . import audit
from .extensions import db
from .models import STATUS_DRAFT, Permit


class NoLongerDraft(ValueError):
    """The record was issued, changed or removed by someone else since it was loaded."""


def changed_meanwhile() -> str:
    return _("This permit was issued or changed by someone else a moment ago; reload its page")


_LOCK = select(Permit.__table__.c.status).where(Permit.__table__.c.id == bindparam("_id")).with_for_update()


def lock_row(item, session=None):
    """Lock the record's common row until commit; return its status as stored (None: gone).

    Every write to a permit takes this lock first -- edits and deletions
    here, issuing and changing in :mod:`core.numbering` -- and the audit
    chain head only after it, so two writers of one record run one after the
    other and never deadlock.  (SQLite's ``BEGIN IMMEDIATE`` already holds
    the whole database.)
    """
    session = session or db.session
    return session.connection().execute(_LOCK, {"_id": item.id}).scalar_one_or_none()


def lock_draft(item, session=None) -> None:
    """:func:`lock_row`, then :class:`NoLongerDraft` unless the stored record is still a draft."""
    if lock_row(item, session) != STATUS_DRAFT:
        raise NoLongerDraft(changed_meanwhile())


def snapshot(ptype, item) -> dict:
    """The declared fields of a record as display text (personal data masked)."""
    return {f.name: f.display(getattr(item, f.name, None)) for f in ptype.all_fields}


def pending_changes(ptype, item) -> tuple[dict, dict]:
    """(before, after) of the declared fields changed on ``item`` but not yet flushed."""
    state = sa_inspect(item)
    before, after = {}, {}
    for f in ptype.all_fields:
        hist = state.attrs[f.name].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if f.display(old) != f.display(new):
                before[f.name] = f.display(old)
                after[f.name] = f.display(new)
    return before, after


def audit_create(ptype, item, via="form") -> None:
    """Flush ``item`` (to get its id) and record its creation in the same transaction."""
    db.session.add(item)
    db.session.flush()
    audit.record("permit.create", obj_type=ptype.code, obj_id=item.id, obj_bureau=item.bureau_code,
                 after=snapshot(ptype, item), reason=None if via == "form" else via)


def audit_update(ptype, item, via="form") -> tuple[dict, dict]:
    """Record the pending changes of ``item`` (if any); return them as ``(before, after)``."""
    before, after = pending_changes(ptype, item)
    lock_draft(item)
    if after:
        db.session.flush()          # the record's own rows first, then the chain head
        audit.record("permit.update", obj_type=ptype.code, obj_id=item.id, obj_bureau=item.bureau_code,
                     before=before, after=after, reason=None if via == "form" else via)
    return before, after


def audit_delete(ptype, item) -> None:
    lock_draft(item)
    audit.record("permit.delete", obj_type=ptype.code, obj_id=item.id, obj_bureau=item.bureau_code,
                 before=snapshot(ptype, item))


def create(ptype, model, values: dict, bureau_code: str, via="form"):
    item = model(**values)
    item.bureau_code = bureau_code
    item.status = STATUS_DRAFT
    audit_create(ptype, item, via=via)
    return item
