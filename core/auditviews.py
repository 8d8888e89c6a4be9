"""Audit pages: the list with filters and .xlsx export, one record's detail, a permit's timeline.

Nothing here writes to the chain except the record of an export; there is
no add, edit or delete anywhere.  Which records an actor sees is decided by
:func:`scope_clause`, built on :mod:`core.scope`:

* province admins: every record;
* everyone else: records about objects of the bureaus they may see (a city
  reviewer: the city's bureaus; a clerk: the own bureau), records without an
  object bureau made by actors of those bureaus, and their own actions;
* inspectors also: the records of the permits assigned to them in spot checks.

Times are stored in UTC and shown in Asia/Shanghai.
"""
from __future__ import annotations

import datetime as dt
import io
import json

from flask import Response, abort, current_app, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import and_, false, func, or_, select

from . import audit, clock
from .audit import AuditRecord
from .extensions import db
from .models import STATUSES, Permit
from .roles import EXTRA
from .scope import ROLE_CITY, ROLE_INSPECTOR, current_actor, is_province, role_names, visible_bureaus_clause

AUDIT_VIEW = "audit_log"
SUPERVISION = "Supervision"
EXTRA[ROLE_CITY] += [("can_list", AUDIT_VIEW), ("can_export", AUDIT_VIEW), ("menu_access", "Audit log"),
                     ("menu_access", SUPERVISION)]
EXTRA[ROLE_INSPECTOR] += [("can_list", AUDIT_VIEW), ("can_export", AUDIT_VIEW), ("menu_access", "Audit log"),
                          ("menu_access", SUPERVISION)]

#: Display names of actions; other modules may add theirs.
ACTION_LABELS = {
    "permit.create": _l("Record created"), "permit.update": _l("Fields changed"), "permit.delete": _l("Draft deleted"),
    "permit.issue": _l("Certificate issued"), "permit.print": _l("Certificate printed"), "permit.change": _l("Changed (new version)"),
    "permit.revoke": _l("Permit revoked"), "permit.import": _l("Record imported"),
    "auth.login": _l("Logged in"), "auth.login_failed": _l("Failed login"), "auth.logout": _l("Logged out"),
    "auth.password_change": _l("Password changed"), "auth.password_reset": _l("Password reset"),
    "account.create": _l("Account created"), "account.lock": _l("Account locked"),
    "account.disable": _l("Account disabled"), "account.enable": _l("Account enabled"),
    "type.enable": _l("Permit type switched on"), "type.disable": _l("Permit type switched off"),
    "api.push": _l("API push"), "attachment.upload": _l("Attachment uploaded"),
    "attachment.download": _l("Attachment downloaded"), "attachment.delete": _l("Attachment deleted"),
    "bureau.create": _l("Bureau added"), "bureau.update": _l("Bureau changed"),
    "system.add": _l("External system added"), "system.revoke": _l("External system key revoked"),
    "audit.export": _l("Audit records exported"), "bureau.seed": _l("Bureau list loaded"),
    "spotcheck.create": _l("Spot-check plan created"), "spotcheck.draw": _l("Spot-check draw"),
    "spotcheck.finding": _l("Spot-check finding"), "spotcheck.close": _l("Spot-check plan closed"),
    "spotcheck.attachment": _l("Spot-check attachment"),
    "import": _l("Excel import"), "permit.export": _l("List exported to Excel"),
}
RESULT_LABELS = {"success": _l("Success"), "refused": _l("Refused"), "failure": _l("Failure")}
ACTOR_KINDS = {"user": _l("User"), "system": _l("External system"), "job": _l("System job"),
               "anonymous": _l("Anonymous")}
#: Labels of keys that are not declared fields.
KEY_LABELS = {
    "status": "状态", "number": "编号", "issued_on": "发证日期", "revoked_on": "撤销日期", "revoke_reason": "撤销原因",
    "revoke_doc": "撤销决定文号", "version": "版本", "trial": "试运行", "digest": "摘要", "enabled": "启用",
    "bureau_code": "审批主体", "result": "检查结果", "notes": "检查说明", "plan": "抽查计划",
    "attachment": "附件", "attachment_sha256": "附件摘要", "name": "名称", "issued_from": "发证日期起",
    "issued_to": "发证日期止", "types": "许可类型", "regions": "地区", "ratio": "抽取比例", "per_object": "每个对象的检查人员数",
    "seed": "随机种子", "population": "符合条件的许可数", "inspectors": "抽查人员数", "pool_digest": "名录库摘要",
    "drawn": "抽取结果", "objects": "检查对象数", "rows": "行数", "filters": "筛选条件", "roles": "角色",
    "via": "途径", "accounts_created": "新建账号", "bureaus_added": "新增审批主体", "bureaus_updated": "更新审批主体",
    "first": "首次打印", "same_as_first": "与首次打印一致", "sha256": "SHA-256 摘要", "with_attachments": "含附件清单",
    "filename": "文件名", "permit": "许可证", "must_change_password": "须修改密码", "category": "附件类别",
    "size": "大小（字节）", "record_id": "发送方记录号", "changed": "变更的字段", "type": "业务类型",
}
#: Display names of some stored values (the stored value stays as it is).
VALUE_LABELS = {"web": _l("web page"), "api": _l("API"), "form": _l("web page"), "import": _l("import"),
                "push": _l("push by an external system")}


def reason_text(reason) -> str:
    if not reason:
        return ""
    label = VALUE_LABELS.get(reason)
    return str(label) if label is not None else reason



def action_label(action) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def value_text(key, value) -> str:
    if value is None or value == "":
        return "—"
    if key == "status" and value in STATUSES:
        return STATUSES[value]
    if key == "via" and value in VALUE_LABELS:
        return str(VALUE_LABELS[value])
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _inspector_clause(user):
    try:
        from .spotchecks import assigned_permit_refs
    except ImportError:  # pragma: no cover
        return None
    refs = assigned_permit_refs(user.username)
    if not refs:
        return None
    return or_(*[and_(AuditRecord.obj_type == t, AuditRecord.obj_id.in_([str(i) for i in ids]))
                 for t, ids in refs.items()])


def scope_clause(user=None):
    """SQL condition limiting audit records to what ``user`` may see (None = everything)."""
    user = current_actor() if user is None else user
    if user is None:
        return false()
    if is_province(user):
        return None
    by_object = visible_bureaus_clause(user, AuditRecord.obj_bureau)
    by_actor = visible_bureaus_clause(user, AuditRecord.actor_bureau)
    parts = [or_(by_object, and_(AuditRecord.obj_bureau.is_(None), by_actor)),
             and_(AuditRecord.actor == user.username, AuditRecord.actor_kind == "user")]
    if ROLE_INSPECTOR in role_names(user):
        extra = _inspector_clause(user)
        if extra is not None:
            parts.append(extra)
    return or_(*parts)


def scoped(query, user=None):
    clause = scope_clause(user)
    return query if clause is None else query.where(clause)


def _local_day_start(day: dt.date) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(0), tzinfo=clock.zone())
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


FILTERS = ("obj_type", "obj_id", "actor", "bureau", "action", "result", "date_from", "date_to")


def read_filters(args) -> tuple[dict, dict]:
    """(clean filter values, errors by filter name) from request arguments."""
    values, errors = {}, {}
    for name in FILTERS:
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        if name in ("date_from", "date_to"):
            try:
                values[name] = dt.date.fromisoformat(raw)
            except ValueError:
                errors[name] = _("%(label)s is not a date (write it as 2026-03-08)",
                                 label=_("From") if name == "date_from" else _("To"))
                continue
        else:
            values[name] = raw[:120]
    return values, errors


def filtered(query, values: dict):
    if "obj_type" in values:
        query = query.where(AuditRecord.obj_type == values["obj_type"])
    if "obj_id" in values:
        query = query.where(AuditRecord.obj_id == values["obj_id"])
    if "actor" in values:
        query = query.where(AuditRecord.actor.contains(values["actor"], autoescape=True))
    if "bureau" in values:
        query = query.where(or_(AuditRecord.obj_bureau == values["bureau"],
                                AuditRecord.actor_bureau == values["bureau"]))
    if "action" in values:
        action = values["action"]
        query = query.where(AuditRecord.action.startswith(action.rstrip("*"), autoescape=True)
                            if action.endswith("*") else AuditRecord.action == action)
    if "result" in values:
        query = query.where(AuditRecord.result == values["result"])
    if "date_from" in values:
        query = query.where(AuditRecord.at >= _local_day_start(values["date_from"]))
    if "date_to" in values:
        query = query.where(AuditRecord.at < _local_day_start(values["date_to"] + dt.timedelta(days=1)))
    return query


OBJECT_LABELS = {"user": _l("User account"), "permit_type": _l("Permit type"),
                 "spotcheck_plan": _l("Spot-check plan"), "bureau": _l("Bureau"), "audit_log": _l("Audit log")}


def _object_label(rec) -> str:
    registry = current_app.extensions["permits"].registry
    if rec.obj_type in registry:
        return f"{registry[rec.obj_type].name} #{rec.obj_id}"
    if rec.obj_type in OBJECT_LABELS:
        kind = str(OBJECT_LABELS[rec.obj_type])
        if rec.obj_type == "spotcheck_plan":
            return f"{kind} #{rec.obj_id}"
        return " ".join(x for x in (kind, rec.obj_id) if x)
    return " ".join(x for x in (rec.obj_type, rec.obj_id) if x)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "…"


def summary(rec, limit: int = 4) -> list[str]:
    """A few short lines describing what a record changed, for the list."""
    before, after = audit.loads(rec.before), audit.loads(rec.after)
    if before is None and isinstance(after, dict) and len(after) > limit:
        return [_("%(n)s fields entered", n=len(after))]
    lines = []
    for label, b, a in changes(rec)[:limit]:
        lines.append(_short((f"{label}：" if label else "") + (a if b == "—" else f"{b} → {a}")))
    return lines


def changes(rec, ptype=None) -> list[tuple[str, str, str]]:
    """(label, before, after) for every key whose value differs, labels from the declaration."""
    before, after = audit.loads(rec.before), audit.loads(rec.after)
    if not isinstance(before, dict) and not isinstance(after, dict):
        if before is None and after is None:
            return []
        return [("", value_text(None, before), value_text(None, after))]
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    if ptype is None:
        ptype = _registry_get(rec.obj_type)
    labels = dict(KEY_LABELS)
    if ptype is not None:
        labels.update({f.name: f.label for f in ptype.all_fields})
    out = []
    keys = list(before) + [k for k in after if k not in before]
    for key in keys:
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        out.append((labels.get(key, key), value_text(key, b), value_text(key, a)))
    return out


def _registry_get(code):
    registry = current_app.extensions["permits"].registry
    return registry[code] if code in registry else None


def export_rows(records):
    header = [_("No."), _("Time (Beijing)"), _("Actor"), _("Actor kind"), _("Actor bureau"), _("Client address"),
              _("Action"), _("Object"), _("Object bureau"), _("Before"), _("After"), _("Reason given"), _("Result"),
              _("Hash")]
    yield header
    for rec in records:
        yield [rec.seq, audit.format_local(rec.at), rec.actor, str(ACTOR_KINDS.get(rec.actor_kind, rec.actor_kind)),
               rec.actor_bureau or "", rec.client_addr or "", action_label(rec.action), _object_label(rec),
               rec.obj_bureau or "", rec.before or "", rec.after or "", rec.reason or "",
               str(RESULT_LABELS.get(rec.result, rec.result)), rec.hash]


class AuditLogView(BaseView):
    """审计日志: read-only list, detail and export."""

    route_base = "/audit"
    class_permission_name = AUDIT_VIEW
    method_permission_name = {"index": "list", "show": "list", "export": "export"}
    default_view = "index"
    PAGE = 50
    MAX_EXPORT = 100_000

    def _query(self, values):
        return filtered(scoped(select(AuditRecord)), values)

    @expose("/")
    @has_access
    def index(self):
        values, errors = read_filters(request.args)
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        q = self._query(values)
        total = db.session.scalar(select(func.count()).select_from(q.subquery()))
        rows = db.session.execute(q.order_by(AuditRecord.seq.desc()).offset((page - 1) * self.PAGE)
                                  .limit(self.PAGE)).scalars().all()
        actions = sorted(set(ACTION_LABELS) | set(db.session.execute(
            select(AuditRecord.action).distinct()).scalars().all()))
        registry = current_app.extensions["permits"].registry
        obj_types = [(t.code, t.name) for t in registry] + [("user", _("User account")),
                                                            ("permit_type", _("Permit type")),
                                                            ("spotcheck_plan", _("Spot-check plan"))]
        args = {k: v for k, v in request.args.items() if k in FILTERS and v}
        return self.render_template(
            "audit/list.html", title=_("Audit log"), rows=rows, total=total, page=page,
            pages=max((total + self.PAGE - 1) // self.PAGE, 1), filters=values, errors=errors, args=args,
            actions=[(a, action_label(a)) for a in actions], obj_types=obj_types, fmt=audit.format_local,
            action_label=action_label, object_label=_object_label, summary=summary, reason_text=reason_text,
            results=RESULT_LABELS, kinds=ACTOR_KINDS)

    @expose("/<int:seq>")
    @has_access
    def show(self, seq):
        rec = db.session.execute(scoped(select(AuditRecord).where(AuditRecord.seq == seq))).scalar()
        if rec is None:
            abort(404)
        return self.render_template("audit/show.html", title=_("Audit record %(seq)s", seq=seq), rec=rec,
                                    reason_text=reason_text,
                                    fmt=audit.format_local, action_label=action_label, object_label=_object_label,
                                    changes=changes(rec, _registry_get(rec.obj_type)), results=RESULT_LABELS,
                                    kinds=ACTOR_KINDS, before=audit.loads(rec.before), after=audit.loads(rec.after))

    @expose("/export")
    @has_access
    def export(self):
        from openpyxl import Workbook
        values, errors = read_filters(request.args)
        if errors:
            abort(400)
        q = self._query(values).order_by(AuditRecord.seq)
        total = db.session.scalar(select(func.count()).select_from(q.subquery()))
        if total > self.MAX_EXPORT:
            return Response(_("Too many records (%(n)s) for one export; narrow the filters to at most %(max)s.",
                              n=total, max=self.MAX_EXPORT), status=413, mimetype="text/plain")
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(_("Audit log"))
        count = -1
        for row in export_rows(db.session.execute(q.execution_options(yield_per=2000)).scalars()):
            ws.append(row)
            count += 1
        buf = io.BytesIO()
        wb.save(buf)
        audit.record("audit.export", obj_type="audit_log", after={"rows": count, "filters": {
            k: str(v) for k, v in values.items()}})
        db.session.commit()
        stamp = audit.to_local(audit.utcnow()).strftime("%Y%m%d-%H%M")
        return Response(buf.getvalue(), headers={"Content-Disposition": f"attachment; filename=audit-{stamp}.xlsx"},
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def version_ids(item) -> list[int]:
    """Ids of every version of a permit (older ones through ``previous_id``, newer ones pointing back)."""
    ids, cur = [], item
    seen = set()
    while cur is not None and cur.id not in seen:
        seen.add(cur.id)
        ids.append(cur.id)
        cur = db.session.get(Permit, cur.previous_id) if cur.previous_id else None
    frontier = [item.id]
    while frontier:
        newer = db.session.execute(select(Permit.id).where(Permit.previous_id.in_(frontier))).scalars().all()
        frontier = [i for i in newer if i not in seen]
        seen.update(frontier)
        ids.extend(frontier)
    return ids


def timeline(item, ptype, limit: int = 200) -> list[dict]:
    """The history of one permit (all its versions), oldest first, for the show-page panel."""
    ids = [str(i) for i in version_ids(item)]
    rows = db.session.execute(select(AuditRecord).where(AuditRecord.obj_type == ptype.code,
                                                        AuditRecord.obj_id.in_(ids))
                              .order_by(AuditRecord.seq).limit(limit)).scalars().all()
    out = []
    for rec in rows:
        after = audit.loads(rec.after)
        out.append({
            "seq": rec.seq, "at": audit.format_local(rec.at), "actor": rec.actor,
            "actor_kind": str(ACTOR_KINDS.get(rec.actor_kind, rec.actor_kind)), "actor_bureau": rec.actor_bureau,
            "action": action_label(rec.action), "code": rec.action, "result": rec.result,
            "result_label": str(RESULT_LABELS.get(rec.result, rec.result)), "reason": reason_text(rec.reason),
            "changes": [] if rec.action == "permit.create" else changes(rec, ptype),
            "created": changes(rec, ptype) if rec.action == "permit.create" and isinstance(after, dict) else [],
            "version": str(rec.obj_id) != str(item.id) and rec.obj_id,
        })
    return out


TIMELINE_PANEL = "audit/timeline_panel.html"


def add_views(appbuilder, state) -> None:
    """Wire the audit, revocation and spot-check pages (called from :func:`core.wiring.add_core_views`)."""
    from . import revocation, spotchecks
    from .views import register_show_panel
    from flask import current_app as app
    app.jinja_env.globals["permits_audit_timeline"] = timeline
    app.jinja_env.globals["permits_may_revoke"] = revocation.may_revoke
    appbuilder.add_view(AuditLogView, "Audit log", label=_l("Audit log"), icon="fa-history",
                        category=SUPERVISION, category_label=_l("Supervision"))
    spotchecks.add_views(appbuilder, SUPERVISION)
    appbuilder.add_view_no_menu(revocation.RevocationView)
    appbuilder.add_view_no_menu(revocation.PublicRevokedView)
    appbuilder.add_api(revocation.RevocationApi)
    register_show_panel(revocation.REVOKE_PANEL)
    register_show_panel(TIMELINE_PANEL)
