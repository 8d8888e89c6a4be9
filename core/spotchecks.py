"""双随机、一公开: spot-check plans with a reproducible draw, inspectors' findings, public results.

A plan names the issued permits it covers (issue-date range, types, regions
= bureau cities), the share to draw (default 5 %, at least one object) and
the inspectors per object (default 2).  The draw:

* the **object pool** is every issued (non-trial) permit matching the plan;
  the **inspector pool** every active user with the role 抽查人员;
* each permit gets the rank ``SHA-256(seed|object|<permit id>)`` and the
  lowest ranks are drawn; for each drawn permit every inspector not from the
  issuing bureau gets ``SHA-256(seed|inspector|<permit id>|<user name>)``
  and the lowest ranks are assigned;
* the seed, both pools and both drawn lists are stored, and the draw's audit
  record carries their digests.

The ranking needs nothing but SHA-256, so anyone holding the seed and the
pools can repeat the draw (``permits spotcheck replay <plan>``), today or in
ten years, in any language.  Inspectors record a finding (合规 / 存在问题,
notes, an optional attachment); when every finding is in, an admin closes
the plan and it is published at ``/public/spotchecks``.  Every step is
audited.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from decimal import ROUND_CEILING, Decimal, InvalidOperation

import click
from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask.cli import with_appcontext
from flask_appbuilder import BaseView, Model, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import relationship

from . import audit
from .extensions import db
from .models import STATUS_ISSUED, Bureau, Permit, PermitUser, utcnow
from .revocation import check_csrf, redact_personal
from .roles import EXTRA
from .scope import ROLE_INSPECTOR, current_actor, is_province

RESULTS = ("合规", "存在问题")
PLAN_DRAFT, PLAN_DRAWN, PLAN_CLOSED = "draft", "drawn", "closed"
PLAN_STATES = {PLAN_DRAFT: _l("Not drawn"), PLAN_DRAWN: _l("Drawn, in progress"), PLAN_CLOSED: _l("Closed and published")}
TASKS_VIEW = "spotcheck_tasks"
EXTRA[ROLE_INSPECTOR] += [("can_mine", TASKS_VIEW), ("can_finding", TASKS_VIEW), ("menu_access", "My spot checks")]


class SpotCheckPlan(Model):
    __tablename__ = "spotcheck_plan"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    issued_from = Column(Date, nullable=False)
    issued_to = Column(Date, nullable=False)
    types = Column(Text, nullable=False, default="[]")        # JSON list of type codes ([] = all)
    regions = Column(Text, nullable=False, default="[]")      # JSON list of bureau cities ([] = all)
    ratio = Column(String(12), nullable=False, default="0.05")
    per_object = Column(Integer, nullable=False, default=2)
    status = Column(String(10), nullable=False, default=PLAN_DRAFT)
    seed = Column(String(64))
    population = Column(Text)                                 # JSON [[permit id, bureau code], ...]
    inspector_pool = Column(Text)                             # JSON [[user name, bureau code or null], ...]
    pool_digest = Column(String(64))
    created_by = Column(String(120))
    created_at = Column(DateTime, default=utcnow)
    drawn_at = Column(DateTime)
    closed_at = Column(DateTime)
    objects = relationship("SpotCheckObject", order_by="SpotCheckObject.position", back_populates="plan")

    @property
    def type_list(self) -> list:
        return json.loads(self.types or "[]")

    @property
    def region_list(self) -> list:
        return json.loads(self.regions or "[]")

    @property
    def status_name(self) -> str:
        return str(PLAN_STATES.get(self.status, self.status))


class SpotCheckObject(Model):
    __tablename__ = "spotcheck_object"
    id = Column(Integer, primary_key=True)
    plan_id = Column(Integer, ForeignKey("spotcheck_plan.id"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    permit_id = Column(Integer, ForeignKey("permit.id"), nullable=False, index=True)
    type_code = Column(String(40), nullable=False)
    number = Column(String(40))
    bureau_code = Column(String(8), nullable=False)
    rank = Column(String(64), nullable=False)
    plan = relationship(SpotCheckPlan, back_populates="objects")
    permit = relationship(Permit)
    assignments = relationship("SpotCheckAssignment", order_by="SpotCheckAssignment.position",
                               back_populates="object")

    @property
    def result(self) -> str | None:
        found = [a.result for a in self.assignments]
        if not found or any(r is None for r in found):
            return None
        return "存在问题" if "存在问题" in found else "合规"


class SpotCheckAssignment(Model):
    __tablename__ = "spotcheck_assignment"
    id = Column(Integer, primary_key=True)
    plan_id = Column(Integer, ForeignKey("spotcheck_plan.id"), nullable=False, index=True)
    object_id = Column(Integer, ForeignKey("spotcheck_object.id"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    inspector = Column(String(120), nullable=False, index=True)
    inspector_bureau = Column(String(8))
    rank = Column(String(64), nullable=False)
    result = Column(String(10))
    notes = Column(Text)
    attachment_name = Column(String(200))
    attachment_sha256 = Column(String(64))
    found_at = Column(DateTime)
    object = relationship(SpotCheckObject, back_populates="assignments")


# --- the draw: a pure function of the seed and the two pools ------------------------------

class DrawError(ValueError):
    pass


def rank(seed: str, *parts) -> str:
    return hashlib.sha256("|".join([seed, *[str(p) for p in parts]]).encode("utf-8")).hexdigest()


def sample_size(ratio: Decimal, population: int) -> int:
    if population <= 0:
        return 0
    return max(1, int((Decimal(ratio) * population).to_integral_value(rounding=ROUND_CEILING)))


def draw(seed: str, population, inspectors, ratio, per_object: int):
    """``[(permit id, bureau, rank, [(inspector, bureau, rank), ...]), ...]`` in draw order.

    ``population`` is ``[(permit id, bureau code)]``, ``inspectors`` is
    ``[(user name, bureau code or None)]``; their order does not matter.
    """
    population = [(int(p), b) for p, b in population]
    if not population:
        raise DrawError(_("No issued permit matches the plan"))
    n = sample_size(Decimal(ratio), len(population))
    ranked = sorted(((rank(seed, "object", p), p, b) for p, b in population))[:n]
    out = []
    for r, permit_id, bureau in ranked:
        eligible = sorted((rank(seed, "inspector", permit_id, name), name, ib) for name, ib in inspectors
                          if ib != bureau)
        if len(eligible) < per_object:
            raise DrawError(_("Only %(n)s inspectors are not from bureau %(bureau)s; %(k)s are needed per object",
                              n=len(eligible), bureau=bureau, k=per_object))
        out.append((permit_id, bureau, r, [(name, ib, ir) for ir, name, ib in eligible[:per_object]]))
    return out


def pools_digest(population, inspectors) -> str:
    data = json.dumps({"population": sorted([int(p), b] for p, b in population),
                       "inspectors": sorted([n, b or ""] for n, b in inspectors)},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# --- pools from the database ----------------------------------------------------------------

def current_population(plan) -> list[list]:
    q = (select(Permit.id, Permit.bureau_code).join(Bureau, Bureau.code == Permit.bureau_code)
         .where(Permit.status == STATUS_ISSUED, Permit.trial.is_(False), Permit.number.is_not(None),
                Permit.issued_on >= plan.issued_from, Permit.issued_on <= plan.issued_to))
    if plan.type_list:
        q = q.where(Permit.type_code.in_(plan.type_list))
    if plan.region_list:
        q = q.where(Bureau.city.in_(plan.region_list))
    return [[pid, b] for pid, b in db.session.execute(q.order_by(Permit.id)).all()]


def current_inspectors() -> list[list]:
    sm = current_app.appbuilder.sm
    users = db.session.execute(select(PermitUser).where(PermitUser.active.is_(True))
                               .order_by(PermitUser.username)).scalars().all()
    return [[u.username, u.bureau_code] for u in users if any(r.name == ROLE_INSPECTOR for r in u.roles)] \
        if sm else []


# --- the steps ----------------------------------------------------------------------------------

def clean_plan(form) -> tuple[dict, dict]:
    """(values, errors by field) for a new plan from form-like data."""
    errors, values = {}, {}
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = _("The plan name is required")
    elif len(name) > 200:
        errors["name"] = _("The plan name is longer than 200 characters")
    values["name"] = name
    for key, label in (("issued_from", _("Issued from")), ("issued_to", _("Issued to"))):
        raw = (form.get(key) or "").strip()
        try:
            values[key] = dt.date.fromisoformat(raw)
        except ValueError:
            errors[key] = _("%(label)s is not a date (write it as 2026-03-08)", label=label) if raw \
                else _("%(label)s is required", label=label)
    if "issued_from" in values and "issued_to" in values and values["issued_from"] > values["issued_to"]:
        errors["issued_to"] = _("Issued to must not be before issued from")
    registry = current_app.extensions["permits"].registry
    types = [t for t in _getlist(form, "types") if t]
    unknown = [t for t in types if t not in registry]
    if unknown:
        errors["types"] = _("Unknown permit type: %(code)s", code=", ".join(unknown))
    values["types"] = types
    cities = set(db.session.execute(select(Bureau.city).distinct()).scalars().all())
    regions = [r for r in _getlist(form, "regions") if r]
    bad = [r for r in regions if r not in cities]
    if bad:
        errors["regions"] = _("Unknown region: %(name)s", name=", ".join(bad))
    values["regions"] = regions
    try:
        percent = Decimal(str(form.get("ratio_percent") or current_app.config.get("PERMITS_SPOTCHECK_PERCENT", 5)))
        if not (Decimal(0) < percent <= Decimal(100)):
            raise InvalidOperation
        values["ratio"] = str((percent / 100).normalize())
    except (InvalidOperation, ValueError):
        errors["ratio_percent"] = _("The share to draw must be a percentage above 0 and at most 100")
    minimum = int(current_app.config.get("PERMITS_SPOTCHECK_MIN_INSPECTORS", 2))
    try:
        per = int(form.get("per_object") or current_app.config.get("PERMITS_SPOTCHECK_INSPECTORS", 2))
        if per < minimum or per > 20:
            raise ValueError
        values["per_object"] = per
    except ValueError:
        errors["per_object"] = _("Inspectors per object must be a whole number from %(min)s to 20", min=minimum)
    return values, errors


def _getlist(form, key):
    return form.getlist(key) if hasattr(form, "getlist") else list(form.get(key) or [])


def create_plan(values: dict) -> SpotCheckPlan:
    name, _kind, _bureau = audit.current_actor_identity()
    plan = SpotCheckPlan(name=values["name"], issued_from=values["issued_from"], issued_to=values["issued_to"],
                         types=json.dumps(values["types"]), regions=json.dumps(values["regions"], ensure_ascii=False),
                         ratio=values["ratio"], per_object=values["per_object"], status=PLAN_DRAFT,
                         created_by=name, created_at=utcnow())
    db.session.add(plan)
    db.session.flush()
    audit.record("spotcheck.create", obj_type="spotcheck_plan", obj_id=plan.id, after={
        "name": plan.name, "issued_from": plan.issued_from, "issued_to": plan.issued_to, "types": values["types"],
        "regions": values["regions"], "ratio": plan.ratio, "per_object": plan.per_object})
    db.session.commit()
    return plan


def run_draw(plan, seed: str | None = None) -> SpotCheckPlan:
    """Draw objects and inspectors for ``plan`` and store everything; commit."""
    if plan.status != PLAN_DRAFT:
        raise DrawError(_("This plan has already been drawn"))
    seed = seed or secrets.token_hex(16)
    population = current_population(plan)
    inspectors = current_inspectors()
    drawn = draw(seed, population, inspectors, plan.ratio, plan.per_object)
    permits = {p.id: p for p in db.session.execute(
        select(Permit).where(Permit.id.in_([d[0] for d in drawn]))).scalars()}
    plan.seed = seed
    plan.population = json.dumps(population)
    plan.inspector_pool = json.dumps(inspectors)
    plan.pool_digest = pools_digest(population, inspectors)
    plan.status = PLAN_DRAWN
    plan.drawn_at = utcnow()
    listing = []
    for pos, (permit_id, bureau, r, chosen) in enumerate(drawn, 1):
        permit = permits[permit_id]
        obj = SpotCheckObject(plan=plan, position=pos, permit_id=permit_id, type_code=permit.type_code,
                              number=permit.number, bureau_code=bureau, rank=r)
        db.session.add(obj)
        for ipos, (name, ib, ir) in enumerate(chosen, 1):
            db.session.add(SpotCheckAssignment(plan_id=plan.id, object=obj, position=ipos, inspector=name,
                                               inspector_bureau=ib, rank=ir))
        listing.append({"number": permit.number, "permit_id": permit_id, "inspectors": [c[0] for c in chosen]})
    db.session.flush()
    audit.record("spotcheck.draw", obj_type="spotcheck_plan", obj_id=plan.id, after={
        "seed": seed, "population": len(population), "inspectors": len(inspectors),
        "pool_digest": plan.pool_digest, "drawn": listing})
    db.session.commit()
    return plan


def replay(plan) -> tuple[bool, list[str]]:
    """Recompute the stored draw from its seed and pools: (identical?, report lines)."""
    lines = []
    if plan.status == PLAN_DRAFT or not plan.seed:
        return False, [_("This plan has not been drawn yet")]
    population = json.loads(plan.population)
    inspectors = json.loads(plan.inspector_pool)
    ok = True
    if pools_digest(population, inspectors) != plan.pool_digest:
        ok = False
        lines.append(_("The stored pools do not match their digest"))
    try:
        again = draw(plan.seed, population, inspectors, plan.ratio, plan.per_object)
    except DrawError as exc:
        return False, lines + [str(exc)]
    stored = [(o.permit_id, [a.inspector for a in o.assignments]) for o in plan.objects]
    recomputed = [(d[0], [c[0] for c in d[3]]) for d in again]
    if stored != recomputed:
        ok = False
        for pos, (s, r) in enumerate(zip(stored, recomputed), 1):
            if s != r:
                lines.append(_("Object %(pos)s differs: stored %(s)s, recomputed %(r)s", pos=pos, s=s, r=r))
                break
        if len(stored) != len(recomputed):
            lines.append(_("%(s)s objects stored, %(r)s recomputed", s=len(stored), r=len(recomputed)))
    else:
        lines.append(_("Seed %(seed)s: %(n)s objects and %(k)s assignments recomputed, identical to the stored draw",
                       seed=plan.seed, n=len(stored), k=sum(len(s[1]) for s in stored)))
    # how the pools look today (informational: permits may have been revoked since)
    now = current_population(plan)
    if sorted(map(tuple, now)) != sorted(map(tuple, population)):
        lines.append(_("Note: the matching permits have changed since the draw (%(then)s then, %(now)s now)",
                       then=len(population), now=len(now)))
    return ok, lines


def record_finding(assignment, result, notes, upload=None) -> None:
    plan = db.session.get(SpotCheckPlan, assignment.plan_id)
    if plan.status != PLAN_DRAWN:
        raise DrawError(_("This plan is closed; findings can no longer be changed"))
    errors = []
    if result not in RESULTS:
        errors.append(_("Choose a result: 合规 or 存在问题"))
    notes = (notes or "").strip()
    if result == "存在问题" and not notes:
        errors.append(_("Describe the problem in the notes"))
    if len(notes) > 2000:
        errors.append(_("The notes are longer than 2000 characters"))
    if errors:
        raise DrawError("；".join(errors))
    before = {"result": assignment.result, "notes": assignment.notes} if assignment.result else None
    if upload is not None and getattr(upload, "filename", ""):
        data = upload.read()
        limit = int(current_app.config.get("PERMITS_MAX_UPLOAD_MB", 50)) * 1024 * 1024
        if len(data) > limit:
            raise DrawError(_("The file is too large"))
        digest = hashlib.sha256(data).hexdigest()
        folder = os.path.join(current_app.instance_path, "spotcheck_files")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, digest), "wb") as fh:
            fh.write(data)
        assignment.attachment_name = os.path.basename(upload.filename)[:200]
        assignment.attachment_sha256 = digest
    assignment.result = result
    assignment.notes = notes
    assignment.found_at = utcnow()
    obj = assignment.object
    db.session.flush()
    audit.record("spotcheck.finding", obj_type=obj.type_code, obj_id=obj.permit_id, obj_bureau=obj.bureau_code,
                 before=before, after={"plan": plan.id, "result": result, "notes": notes,
                                       "attachment": assignment.attachment_name,
                                       "attachment_sha256": assignment.attachment_sha256},
                 reason=plan.name)
    db.session.commit()


def close_plan(plan) -> None:
    if plan.status != PLAN_DRAWN:
        raise DrawError(_("Only a drawn plan can be closed"))
    missing = [f"{o.number}（{a.inspector}）" for o in plan.objects for a in o.assignments if a.result is None]
    if missing:
        raise DrawError(_("Findings are missing: %(list)s", list="、".join(missing)))
    plan.status = PLAN_CLOSED
    plan.closed_at = utcnow()
    summary = {"objects": len(plan.objects), "合规": sum(1 for o in plan.objects if o.result == "合规"),
               "存在问题": sum(1 for o in plan.objects if o.result == "存在问题")}
    audit.record("spotcheck.close", obj_type="spotcheck_plan", obj_id=plan.id, before={"status": PLAN_DRAWN},
                 after={"status": PLAN_CLOSED, **summary})
    db.session.commit()


def assigned_permit_refs(username) -> dict:
    """{type code: [permit ids]} of the permits assigned to an inspector (for audit scoping)."""
    rows = db.session.execute(select(SpotCheckObject.type_code, SpotCheckObject.permit_id)
                              .join(SpotCheckAssignment, SpotCheckAssignment.object_id == SpotCheckObject.id)
                              .where(SpotCheckAssignment.inspector == username)).all()
    out = {}
    for code, pid in rows:
        out.setdefault(code, []).append(pid)
    return out


# --- pages ------------------------------------------------------------------------------------

def _type_names():
    return {t.code: t.name for t in current_app.extensions["permits"].registry}


class SpotCheckView(BaseView):
    """抽查计划 for admins: create, draw, follow, close."""

    route_base = "/spotchecks"
    class_permission_name = "spotchecks"
    method_permission_name = {"index": "list", "show": "list", "new": "add", "draw_plan": "draw",
                              "close": "close"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        plans = db.session.execute(select(SpotCheckPlan).order_by(SpotCheckPlan.id.desc())).scalars().all()
        return self.render_template("audit/spotcheck_plans.html", plans=plans, title=_("Spot-check plans"),
                                    type_names=_type_names())

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        errors, values = {}, {}
        if request.method == "POST":
            check_csrf()
            values, errors = clean_plan(request.form)
            if not errors:
                plan = create_plan(values)
                flash(_("Plan %(name)s created", name=plan.name), "success")
                return redirect(url_for("SpotCheckView.show", pk=plan.id))
        cities = db.session.execute(select(Bureau.city).distinct().order_by(Bureau.city)).scalars().all()
        return self.render_template("audit/spotcheck_new.html", title=_("New spot-check plan"), errors=errors,
                                    form=request.form, types=list(current_app.extensions["permits"].registry),
                                    cities=cities, default_percent=current_app.config.get("PERMITS_SPOTCHECK_PERCENT", 5),
                                    default_per=current_app.config.get("PERMITS_SPOTCHECK_INSPECTORS", 2))

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        plan = db.session.get(SpotCheckPlan, pk) or abort(404)
        replay_ok = replay_lines = None
        if request.args.get("replay") and plan.status != PLAN_DRAFT:
            replay_ok, replay_lines = replay(plan)
        bureaus = {b.code: b.name for b in db.session.execute(select(Bureau)).scalars()}
        return self.render_template("audit/spotcheck_plan.html", plan=plan, title=plan.name, bureaus=bureaus,
                                    type_names=_type_names(), fmt=audit.format_local, admin=True,
                                    replay_ok=replay_ok, replay_lines=replay_lines,
                                    population=len(json.loads(plan.population or "[]")))

    @expose("/<int:pk>/draw", methods=["POST"])
    @has_access
    def draw_plan(self, pk):
        check_csrf()
        plan = db.session.get(SpotCheckPlan, pk) or abort(404)
        try:
            run_draw(plan)
            flash(_("Drawn: %(n)s objects", n=len(plan.objects)), "success")
        except DrawError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("SpotCheckView.show", pk=pk))

    @expose("/<int:pk>/close", methods=["POST"])
    @has_access
    def close(self, pk):
        check_csrf()
        plan = db.session.get(SpotCheckPlan, pk) or abort(404)
        try:
            close_plan(plan)
            flash(_("The plan is closed and its results are published"), "success")
        except DrawError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("SpotCheckView.show", pk=pk))


class SpotCheckTasksView(BaseView):
    """An inspector's assignments and the finding form."""

    route_base = "/spotchecks/tasks"
    class_permission_name = TASKS_VIEW
    method_permission_name = {"mine": "mine", "assignment": "finding", "attachment": "finding"}
    default_view = "mine"

    def _own(self, pk, admin_too=False):
        a = db.session.get(SpotCheckAssignment, pk)
        user = current_actor()
        if a is None or user is None or (a.inspector != user.username and not (admin_too and is_province(user))):
            abort(404)
        return a

    @expose("/")
    @has_access
    def mine(self):
        user = current_actor()
        rows = db.session.execute(select(SpotCheckAssignment).where(SpotCheckAssignment.inspector == user.username)
                                  .order_by(SpotCheckAssignment.id.desc())).scalars().all()
        plans = {p.id: p for p in db.session.execute(select(SpotCheckPlan).where(
            SpotCheckPlan.id.in_({a.plan_id for a in rows}))).scalars()} if rows else {}
        bureaus = {b.code: b.name for b in db.session.execute(select(Bureau)).scalars()}
        return self.render_template("audit/spotcheck_mine.html", rows=rows, plans=plans, title=_("My spot checks"),
                                    bureaus=bureaus,
                                    type_names=_type_names())

    @expose("/<int:pk>", methods=["GET", "POST"])
    @has_access
    def assignment(self, pk):
        a = self._own(pk)
        plan = db.session.get(SpotCheckPlan, a.plan_id)
        if request.method == "POST":
            check_csrf()
            try:
                record_finding(a, request.form.get("result"), request.form.get("notes"),
                               request.files.get("attachment"))
                flash(_("Finding recorded"), "success")
                return redirect(url_for("SpotCheckTasksView.mine"))
            except DrawError as exc:
                db.session.rollback()
                flash(str(exc), "danger")
        permit = a.object.permit
        registry = current_app.extensions["permits"].registry
        ptype = registry[permit.type_code] if permit.type_code in registry else None
        fields = [(f.label_with_unit, f.display(getattr(permit, f.name, None))) for f in ptype.printed_fields] \
            if ptype else []
        others = [x for x in a.object.assignments if x.id != a.id]
        return self.render_template("audit/spotcheck_assignment.html", a=a, plan=plan, permit=permit, ptype=ptype,
                                    fields=fields, others=others, results=RESULTS, title=_("Spot check"),
                                    type_names=_type_names())

    @expose("/<int:pk>/attachment")
    @has_access
    def attachment(self, pk):
        a = self._own(pk, admin_too=True)
        if not a.attachment_sha256:
            abort(404)
        path = os.path.join(current_app.instance_path, "spotcheck_files", a.attachment_sha256)
        if not os.path.exists(path):
            abort(404)
        audit.record("spotcheck.attachment", obj_type=a.object.type_code, obj_id=a.object.permit_id,
                     obj_bureau=a.object.bureau_code, after={"plan": a.plan_id, "attachment": a.attachment_name,
                                                             "attachment_sha256": a.attachment_sha256})
        db.session.commit()
        return send_file(path, as_attachment=True, download_name=a.attachment_name)


class PublicSpotChecksView(BaseView):
    """``/public/spotchecks``: closed plans and their results, without login."""

    route_base = "/public"
    default_view = "spotchecks"

    @expose("/spotchecks")
    def spotchecks(self):
        plans = db.session.execute(select(SpotCheckPlan).where(SpotCheckPlan.status == PLAN_CLOSED)
                                   .order_by(SpotCheckPlan.closed_at.desc())).scalars().all()
        return self.render_template("audit/public_spotchecks.html", plans=plans, title=_("Spot-check results"),
                                    type_names=_type_names(), fmt=audit.format_local)

    @expose("/spotchecks/<int:pk>")
    def spotcheck(self, pk):
        plan = db.session.get(SpotCheckPlan, pk)
        if plan is None or plan.status != PLAN_CLOSED:
            abort(404)
        bureaus = {b.code: b.name for b in db.session.execute(select(Bureau)).scalars()}
        return self.render_template("audit/public_spotcheck.html", plan=plan, title=plan.name,
                                    type_names=_type_names(), fmt=audit.format_local, bureaus=bureaus,
                                    redact=redact_personal,
                                    population=len(json.loads(plan.population or "[]")))


def add_views(appbuilder, category) -> None:
    appbuilder.add_view(SpotCheckView, "Spot-check plans", label=_l("Spot-check plans"), icon="fa-random",
                        category=category, category_label=_l("Supervision"))
    appbuilder.add_view(SpotCheckTasksView, "My spot checks", label=_l("My spot checks"), icon="fa-check-square-o",
                        category=category, category_label=_l("Supervision"))
    appbuilder.add_view_no_menu(PublicSpotChecksView)


# --- CLI ----------------------------------------------------------------------------------------

def _plan_arg(value) -> SpotCheckPlan:
    plan = db.session.get(SpotCheckPlan, int(value)) if str(value).isdigit() else db.session.execute(
        select(SpotCheckPlan).where(SpotCheckPlan.name == value)).scalar()
    if plan is None:
        raise click.ClickException(f"抽查计划 {value} 不存在 / no such plan")
    return plan


@click.group("spotcheck")
def spotcheck_cli():
    """双随机、一公开 spot-check plans: list, draw, replay."""


@spotcheck_cli.command("list")
@with_appcontext
def list_cmd():
    """List the plans."""
    for p in db.session.execute(select(SpotCheckPlan).order_by(SpotCheckPlan.id)).scalars():
        click.echo(f"{p.id}\t{p.status}\t{p.name}\t{p.issued_from}–{p.issued_to}\tseed={p.seed or '-'}"
                   f"\tobjects={len(p.objects)}")


@spotcheck_cli.command("draw")
@click.argument("plan")
@click.option("--seed", default=None, help="Use this seed (e.g. one announced in public) instead of a random one.")
@with_appcontext
def draw_cmd(plan, seed):
    """Draw objects and inspectors for PLAN (id or name)."""
    p = _plan_arg(plan)
    try:
        with audit.acting_as("permits-cli", "job"):
            run_draw(p, seed=seed)
    except DrawError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"seed {p.seed}: {len(p.objects)} objects")
    for o in p.objects:
        click.echo(f"{o.position}\t{o.number}\t" + ",".join(a.inspector for a in o.assignments))


@spotcheck_cli.command("replay")
@click.argument("plan")
@with_appcontext
def replay_cmd(plan):
    """Recompute PLAN's draw from its stored seed and pools; exit 1 unless identical."""
    ok, lines = replay(_plan_arg(plan))
    for line in lines:
        click.echo(line)
    if not ok:
        raise SystemExit(1)
    click.echo("OK")
