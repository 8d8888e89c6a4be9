"""External systems and the push API (信息填报: 系统推送).

Other systems -- the engineering-project approval system, the provincial
government-service network, a bureau's own system -- push a project's basic
information when an application arrives, and the approval details after
review.  Each system is registered here with the bureaus it may write for
and gets a bearer token.  The token is shown once and stored only as its
SHA-256, so a leaked database does not leak tokens; revoking sets
``revoked_on`` and the token stops working at once.

Endpoints (a FAB ``BaseApi`` so they appear in ``/api/v1/_openapi``, but
authenticated by the system's own token, not by a FAB user):

* ``POST  /api/v1/projects/push`` -- create or update the project (一码管地,
  keyed by 项目代码) and a draft of the business type.  Idempotent on
  (system, sender's record id); a changed message updates the draft and the
  answer names what changed.
* ``PATCH /api/v1/projects/drafts/<id>`` -- approval details, validated by
  the type's declaration exactly as the form validates them.
* ``POST  /api/v1/projects/drafts/<id>/issue`` -- ask for the number.

The bureau of every record comes from the message but is checked against
the system's allowed bureaus (403 otherwise); a system sees only the
records of its bureaus (:func:`core.scope.restrict_to_system`), anything else is 404.
"""
from __future__ import annotations

import hashlib
import secrets

import click
from flask import abort, current_app, g, redirect, request, url_for
from flask.cli import with_appcontext
from flask_appbuilder import BaseView, Model, expose, has_access
from flask_appbuilder.api import BaseApi
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint,
                        select)
from sqlalchemy.exc import IntegrityError

from . import audit, records, toggles
from .extensions import db
from .models import STATUS_DRAFT, STATUSES, Bureau, Permit, utcnow
from .scope import restrict_to_system

TOKEN_PREFIX = "hnps_"


# --- tables -------------------------------------------------------------------------------

class ExternalSystem(Model):
    """A system allowed to push records, with the bureaus it may write for."""

    __tablename__ = "external_system"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    #: allowed bureau codes, space separated
    bureaus = Column(Text, nullable=False, default="")
    token_hash = Column(String(64), nullable=False, unique=True)
    #: the first characters of the token, to recognise it in a list (not secret enough to use)
    token_hint = Column(String(16), nullable=False)
    created_on = Column(DateTime, nullable=False, default=utcnow)
    created_by = Column(String(120))
    revoked_on = Column(DateTime)
    last_used_on = Column(DateTime)

    @property
    def bureau_list(self) -> list[str]:
        return [c for c in (self.bureaus or "").split() if c]

    @property
    def active(self) -> bool:
        return self.revoked_on is None

    def __str__(self):
        return self.name


class Project(Model):
    """A project known by its national 项目代码 (一码管地、一码管项目)."""

    __tablename__ = "project"
    code = Column(String(24), primary_key=True)
    name = Column(String(200), nullable=False)
    holder = Column(String(200))
    location = Column(String(300))
    created_on = Column(DateTime, nullable=False, default=utcnow)
    changed_on = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class PushedRecord(Model):
    """One sender record id of one system, and the draft it became."""

    __tablename__ = "pushed_record"
    __table_args__ = (UniqueConstraint("system_id", "sender_id", name="uq_pushed_record_sender"),)
    id = Column(Integer, primary_key=True)
    system_id = Column(Integer, ForeignKey("external_system.id"), nullable=False)
    sender_id = Column(String(100), nullable=False)
    permit_id = Column(Integer, ForeignKey("permit.id"), nullable=False, index=True)
    type_code = Column(String(40), nullable=False)
    project_code = Column(String(24), ForeignKey("project.code"), index=True)
    #: SHA-256 of the last accepted message (canonical JSON)
    digest = Column(String(64), nullable=False)
    created_on = Column(DateTime, nullable=False, default=utcnow)
    changed_on = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


# --- tokens and systems ----------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_bureaus(codes) -> list[str]:
    codes = [c.strip() for c in codes if c and c.strip()]
    if not codes:
        raise ValueError(_("Give at least one bureau the system may write for"))
    known = set(db.session.scalars(select(Bureau.code).where(Bureau.code.in_(codes))))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(_("Unknown bureau code: %(codes)s", codes="、".join(unknown)))
    return list(dict.fromkeys(codes))


def add_system(name: str, bureau_codes) -> tuple[ExternalSystem, str]:
    """Register a system; returns it and its token (the only time the token exists in clear)."""
    name = (name or "").strip()
    if not name:
        raise ValueError(_("The system needs a name"))
    if db.session.scalar(select(ExternalSystem).where(ExternalSystem.name == name)) is not None:
        raise ValueError(_("A system named %(name)s already exists", name=name))
    codes = _check_bureaus(bureau_codes)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    system = ExternalSystem(name=name, bureaus=" ".join(codes), token_hash=hash_token(token),
                            token_hint=token[:10], created_by=audit.current_actor_identity()[0])
    db.session.add(system)
    db.session.flush()
    audit.record("system.add", obj_type="external_system", obj_id=name, after={"bureaus": codes})
    db.session.commit()
    return system, token


def revoke_system(name: str) -> ExternalSystem:
    system = db.session.scalar(select(ExternalSystem).where(ExternalSystem.name == name))
    if system is None:
        raise LookupError(_("No system named %(name)s", name=name))
    if system.revoked_on is None:
        system.revoked_on = utcnow()
        audit.record("system.revoke", obj_type="external_system", obj_id=name)
        db.session.commit()
    return system


def system_for_token(token: str | None):
    if not token:
        return None
    system = db.session.scalar(select(ExternalSystem).where(ExternalSystem.token_hash == hash_token(token)))
    if system is None or system.revoked_on is not None:
        return None
    return system


# --- the push API ------------------------------------------------------------------------------

#: message key -> declared common field
PUSH_FIELDS = {"project_code": "project_code", "project_name": "project_name", "holder": "holder",
               "location": "location", "accepted_on": "accepted_on"}
PUSH_KEYS = set(PUSH_FIELDS) | {"type", "bureau_code", "record_id"}

_PUSH_SCHEMA = {
    "type": "object",
    "required": ["record_id", "type", "bureau_code", "project_code", "project_name", "holder", "location"],
    "properties": {
        "record_id": {"type": "string", "maxLength": 100, "description": "发送方自己的记录号（同一系统内唯一，重复推送以此去重）"},
        "type": {"type": "string", "description": "申请的业务类型代码，见 /api/v1/permit-types/",
                 "enum": []},
        "bureau_code": {"type": "string", "description": "审批主体代码（须在本系统获准填报的范围内）"},
        "project_code": {"type": "string", "description": "项目代码（全国投资项目在线审批监管平台赋予）"},
        "project_name": {"type": "string", "description": "项目名称"},
        "holder": {"type": "string", "description": "建设单位"},
        "location": {"type": "string", "description": "位置"},
        "accepted_on": {"type": "string", "format": "date", "description": "受理日期"},
    },
    "additionalProperties": False,
}
_PUSH_EXAMPLE = {
    "record_id": "GCJS-2026-000123", "type": "land_use_permit", "bureau_code": "41010201",
    "project_code": "2026-410102-47-03-012345", "project_name": "护航路小学改扩建项目",
    "holder": "郑州市中原区教育局", "location": "中原区护航路与飞航路东北角", "accepted_on": "2026-03-08",
}
_ERROR = {"type": "object", "properties": {"message": {
    "oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": {
        "type": "array", "items": {"type": "string"}}}]}}}


def _json_response(description, example, schema=None):
    return {"description": description, "content": {"application/json": {
        "schema": schema or {"type": "object"}, "example": example}}}


_COMMON_ERRORS = {
    "401": _json_response("没有令牌或令牌已吊销", {"message": "访问令牌无效或已被吊销"}, _ERROR),
    "403": _json_response("本系统无权为该审批主体填报", {"message": "本系统无权为审批主体 41018101 填报"}, _ERROR),
}


class ProjectsPushApi(BaseApi):
    """Push endpoints for registered external systems (bearer token, see :class:`ExternalSystem`)."""

    resource_name = "projects"
    route_base = "/api/v1/projects"
    openapi_spec_tag = "信息推送"
    allow_browser_login = False
    csrf_exempt = True

    openapi_spec_methods = {
        "push": {"post": {
            "summary": "推送项目基本信息：新建或更新项目及该业务类型的草稿",
            "description": "按（系统，发送方记录号）去重：同一消息重复推送不作任何改动，返回同一记录号；"
                           "字段有变化的后续消息更新草稿，并在 changed 中列出变化。",
            "security": [{"push_token": []}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _PUSH_SCHEMA, "example": _PUSH_EXAMPLE}}},
            "responses": {
                "201": _json_response("已新建草稿", {"id": 17, "record_id": "GCJS-2026-000123",
                                                "result": "created", "changed": {}}),
                "200": _json_response("重复推送（unchanged）或已更新（updated）", {
                    "id": 17, "record_id": "GCJS-2026-000123", "result": "updated",
                    "changed": {"holder": {"before": "郑州市中原区教育局", "after": "郑州市中原区教育体育局"}}}),
                "400": _json_response("请求体不是 JSON 对象", {"message": "请求体必须是 JSON 对象"}, _ERROR),
                **_COMMON_ERRORS,
                "409": _json_response("草稿已发证，不能再修改", {"message": "该记录已发证，不能再通过推送修改"}, _ERROR),
                "422": _json_response("字段有误（字段路径 → 中文说明）", {"message": {
                    "accepted_on": ["受理日期 不是清楚的日期写法（请写成 2024-03-08 或 2024年3月8日）"]}}, _ERROR),
            }}},
        "patch_draft": {"patch": {
            "summary": "推送审批信息：按业务类型的字段声明校验后写入草稿",
            "security": [{"push_token": []}],
            "parameters": [{"in": "path", "name": "pk", "required": True, "schema": {"type": "integer"},
                            "description": "推送时返回的记录号 id"}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "additionalProperties": True,
                           "description": "业务类型声明中的字段（见 /api/v1/permits/<类型>/_info）"},
                "example": {"total_area": "12345.67", "land_use": "二类城镇住宅用地", "acquisition": "出让"}}}},
            "responses": {
                "200": _json_response("已写入", {"id": 17, "result": "updated",
                                              "changed": {"total_area": {"before": "", "after": "12345.67"}}}),
                "400": _json_response("请求体不是 JSON 对象", {"message": "请求体必须是 JSON 对象"}, _ERROR),
                **_COMMON_ERRORS,
                "404": _json_response("记录不存在或不在本系统范围内", {"message": "未找到"}, _ERROR),
                "409": _json_response("已发证", {"message": "该记录已发证，不能再通过推送修改"}, _ERROR),
                "422": _json_response("字段有误", {"message": {"total_area": ["总用地面积 必须是数字"]}}, _ERROR),
            }}},
        "issue_draft": {"post": {
            "summary": "申请发证（配号）",
            "security": [{"push_token": []}],
            "parameters": [{"in": "path", "name": "pk", "required": True, "schema": {"type": "integer"}}],
            "responses": {
                "200": _json_response("已发证", {"id": 17, "number": "地字第4101022026YG0000001号",
                                              "status": "issued"}),
                **_COMMON_ERRORS,
                "404": _json_response("记录不存在或不在本系统范围内", {"message": "未找到"}, _ERROR),
                "409": _json_response("已发证", {"message": "该记录已发证"}, _ERROR),
                "422": _json_response("发证条件不满足", {"message": "发证前须上传：国有建设用地使用权出让合同或划拨决定书"},
                                      _ERROR),
            }}},
    }

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        if "push_token" not in api_spec.components.security_schemes:
            api_spec.components.security_scheme("push_token", {
                "type": "http", "scheme": "bearer",
                "description": "外部系统令牌（permits systems add 生成，只显示一次）"})
        registry = current_app.extensions["permits"].registry
        _PUSH_SCHEMA["properties"]["type"]["enum"] = [t.code for t in registry]

    # -- helpers --------------------------------------------------------------------------

    def _error(self, code, message):
        resp = self.response(code, message=message)
        if code == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="permits"'
        return resp

    def _authenticate(self):
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        system = system_for_token(token)
        if system is None:
            return None, self._error(401, _("The access token is missing, invalid or revoked"))
        system.last_used_on = utcnow()
        g.push_system = system
        return system, None

    @staticmethod
    def _body():
        if not request.is_json:
            return None
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else None

    def _draft(self, system, pk):
        query = restrict_to_system(select(Permit).where(Permit.id == pk), Permit, system)
        permit = db.session.scalar(query)
        if permit is None:
            return None, self._error(404, _("Not found"))
        return permit, None

    # -- endpoints ------------------------------------------------------------------------------

    @expose("/push", methods=["POST"])
    def push(self):
        """Push a project's basic information
        ---
        post:
          summary: push
        """
        system, refused = self._authenticate()
        if refused:
            return refused
        data = self._body()
        if data is None:
            return self._error(400, _("The request body must be a JSON object"))
        errors = {}
        for key in sorted(set(data) - PUSH_KEYS):
            errors[key] = [_("Unknown field")]
        registry = current_app.extensions["permits"].registry
        code = data.get("type")
        ptype = registry.get(code) if isinstance(code, str) else None
        if ptype is None:
            errors["type"] = [_("Unknown business type %(code)s; known: %(codes)s", code=code,
                                codes="、".join(t.code for t in registry))]
        record_id = data.get("record_id")
        if isinstance(record_id, int) and not isinstance(record_id, bool):
            record_id = str(record_id)
        if not isinstance(record_id, str) or not record_id.strip() or len(record_id) > 100:
            errors["record_id"] = [_("record_id (the sender's own record id) is required, as text of at most 100 characters")]
        bureau_code = data.get("bureau_code")
        if not isinstance(bureau_code, str) or not bureau_code:
            errors["bureau_code"] = [_("bureau_code is required")]
        values = {}
        if ptype is not None:
            raw = {PUSH_FIELDS[k]: data.get(k) for k in PUSH_FIELDS}
            values, field_errors = ptype.clean(raw, partial=True)
            for name, message in field_errors.items():
                errors[name] = [message]
            if not raw.get("project_code") and "project_code" not in errors:
                errors["project_code"] = [_("%(label)s is required", label=ptype.field("project_code").label)]
        if errors:
            return self._error(422, errors)
        if bureau_code not in system.bureau_list:
            message = _("This system may not write for bureau %(code)s", code=bureau_code)
            with audit.acting_as(system.name, "system", None):
                audit.record("api.push", obj_type=ptype.code, obj_bureau=bureau_code[:8], result="refused",
                             reason=message, after={"record_id": str(data.get("record_id"))[:100]})
            db.session.commit()
            return self._error(403, message)
        if not toggles.is_enabled(ptype.code):
            return self._error(403, _("The permit type %(name)s is switched off", name=ptype.name))
        record_id = record_id.strip()
        message = dict(values, type=ptype.code, bureau_code=bureau_code)
        digest = hashlib.sha256(audit.dumps(message).encode("utf-8")).hexdigest()
        with audit.acting_as(system.name, "system", bureau_code):
            try:
                return self._apply_push(system, ptype, record_id, bureau_code, values, digest)
            except IntegrityError:        # the same message arrived twice at once
                db.session.rollback()
                return self._apply_push(system, ptype, record_id, bureau_code, values, digest)

    def _apply_push(self, system, ptype, record_id, bureau_code, values, digest):
        model = current_app.extensions["permits"].models[ptype.code]
        pushed = db.session.scalar(select(PushedRecord).where(PushedRecord.system_id == system.id,
                                                              PushedRecord.sender_id == record_id))
        if pushed is not None and pushed.digest == digest:
            db.session.commit()     # last_used_on only
            return self.response(200, id=pushed.permit_id, record_id=record_id, result="unchanged", changed={})
        if pushed is not None:
            if pushed.type_code != ptype.code:
                db.session.rollback()
                return self._error(422, {"type": [_("This record was pushed as %(code)s; the type cannot change",
                                                    code=pushed.type_code)]})
            permit = db.session.get(model, pushed.permit_id)
            if permit.bureau_code != bureau_code:
                db.session.rollback()
                return self._error(422, {"bureau_code": [_("This record belongs to bureau %(code)s; the bureau cannot change",
                                                           code=permit.bureau_code)]})
            if permit.status != STATUS_DRAFT:
                db.session.rollback()
                return self._error(409, _("This record is already %(status)s and can no longer be changed by a push",
                                          status=STATUSES.get(permit.status, permit.status)))
        project = _upsert_project(values)
        if pushed is None:
            permit = records.create(ptype, model, values, bureau_code, via="api.push")
            pushed = PushedRecord(system_id=system.id, sender_id=record_id, permit_id=permit.id,
                                  type_code=ptype.code, project_code=project.code, digest=digest)
            db.session.add(pushed)
            db.session.flush()
            audit.record("api.push", obj_type=ptype.code, obj_id=permit.id, obj_bureau=bureau_code,
                         after={"record_id": record_id, "result": "created"})
            db.session.commit()
            return self.response(201, id=permit.id, record_id=record_id, result="created", changed={})
        before, after, refused = self._write_draft(ptype, permit, values)
        if refused:
            return refused
        pushed.digest = digest
        pushed.project_code = project.code
        changed = {k: {"before": before[k], "after": after[k]} for k in after}
        audit.record("api.push", obj_type=ptype.code, obj_id=permit.id, obj_bureau=bureau_code,
                     after={"record_id": record_id, "result": "updated", "changed": sorted(changed)})
        db.session.commit()
        return self.response(200, id=permit.id, record_id=record_id, result="updated", changed=changed)

    def _write_draft(self, ptype, permit, values):
        """Set pushed values on a draft and audit them: ``(before, after, None)``, or a 409 response
        as the third item when the draft was issued by someone else meanwhile."""
        for name, value in values.items():
            setattr(permit, name, value)
        try:
            before, after = records.audit_update(ptype, permit, via="api.push")
        except records.NoLongerDraft as exc:
            db.session.rollback()
            return {}, {}, self._error(409, str(exc))
        return before, after, None

    @expose("/drafts/<int:pk>", methods=["PATCH"])
    def patch_draft(self, pk):
        """Push approval details onto a draft
        ---
        patch:
          summary: patch
        """
        system, refused = self._authenticate()
        if refused:
            return refused
        permit, missing = self._draft(system, pk)
        if missing:
            return missing
        data = self._body()
        if data is None:
            return self._error(400, _("The request body must be a JSON object"))
        ptype = current_app.extensions["permits"].registry[permit.type_code]
        names = {f.name for f in ptype.all_fields}
        errors = {key: [_("Unknown field")] for key in sorted(set(data) - names)}
        values, field_errors = ptype.clean(data, partial=True)
        errors.update({k: [v] for k, v in field_errors.items()})
        if errors:
            return self._error(422, errors)
        if permit.status != STATUS_DRAFT:
            return self._error(409, _("This record is already %(status)s and can no longer be changed by a push",
                                      status=STATUSES.get(permit.status, permit.status)))
        with audit.acting_as(system.name, "system", permit.bureau_code):
            before, after, refused = self._write_draft(ptype, permit, values)
            if refused:
                return refused
            if after:
                audit.record("api.push", obj_type=ptype.code, obj_id=permit.id, obj_bureau=permit.bureau_code,
                             after={"result": "updated", "changed": sorted(after)})
            db.session.commit()
        changed = {k: {"before": before[k], "after": after[k]} for k in after}
        return self.response(200, id=permit.id, result="updated" if changed else "unchanged", changed=changed)

    @expose("/drafts/<int:pk>/issue", methods=["POST"])
    def issue_draft(self, pk):
        """Ask for the certificate number of a draft
        ---
        post:
          summary: issue
        """
        system, refused = self._authenticate()
        if refused:
            return refused
        permit, missing = self._draft(system, pk)
        if missing:
            return missing
        if permit.status != STATUS_DRAFT:
            return self._error(409, _("This record is already %(status)s", status=STATUSES.get(permit.status,
                                                                                               permit.status)))
        try:
            from . import numbering
            issue_permit = numbering.issue_permit
        except (ImportError, AttributeError):
            return self._error(501, _("Issuing is not available in this installation"))
        with audit.acting_as(system.name, "system", permit.bureau_code):
            try:
                issue_permit(permit)
            except ValueError as exc:
                db.session.rollback()
                errors = getattr(exc, "errors", None)
                if getattr(exc, "conflict", False):
                    return self._error(409, str(exc))
                if isinstance(errors, dict) and errors:
                    return self._error(422, {k: [str(v)] for k, v in errors.items()})
                return self._error(422, str(exc))
            if db.session.dirty or db.session.new:
                db.session.commit()
        permit = db.session.get(Permit, pk)
        return self.response(200, id=permit.id, number=permit.number, status=permit.status)


def _upsert_project(values) -> Project:
    code = values["project_code"]
    project = db.session.get(Project, code)
    if project is None:
        project = Project(code=code, name=values["project_name"], holder=values.get("holder"),
                          location=values.get("location"))
        db.session.add(project)
    else:
        project.name = values["project_name"]
        project.holder = values.get("holder") or project.holder
        project.location = values.get("location") or project.location
    return project


# --- admin page ----------------------------------------------------------------------------

class ExternalSystemsView(BaseView):
    """外部系统管理: register systems, show a new token once, revoke."""

    route_base = "/admin/systems"
    class_permission_name = "external_systems"
    method_permission_name = {"index": "list", "add": "add", "revoke": "revoke"}
    default_view = "index"

    def _render(self, token=None, system=None, error=None, form=None):
        systems = db.session.scalars(select(ExternalSystem).order_by(ExternalSystem.name)).all()
        bureaus = {b.code: b for b in db.session.scalars(select(Bureau))}
        return self.render_template("filing/systems.html", systems=systems, bureaus=bureaus, token=token,
                                    new_system=system, error=error, form=form or {},
                                    title=_("External systems"))

    @expose("/")
    @has_access
    def index(self):
        return self._render()

    @expose("/add", methods=["POST"])
    @has_access
    def add(self):
        name = request.form.get("name", "")
        codes = request.form.get("bureaus", "").replace(",", " ").replace("，", " ").replace("、", " ").split()
        try:
            system, token = add_system(name, codes)
        except ValueError as exc:
            db.session.rollback()
            return self._render(error=str(exc), form=request.form)
        return self._render(token=token, system=system)

    @expose("/<int:pk>/revoke", methods=["POST"])
    @has_access
    def revoke(self, pk):
        system = db.session.get(ExternalSystem, pk)
        if system is None:
            abort(404)
        revoke_system(system.name)
        return redirect(url_for("ExternalSystemsView.index"))


# --- CLI ----------------------------------------------------------------------------------------

@click.group("systems")
def systems_cli():
    """External systems that push records (tokens)."""


@systems_cli.command("add")
@click.argument("name")
@click.option("--bureau", "bureaus", multiple=True, required=True,
              help="A bureau code the system may write for (repeat the option for several).")
@with_appcontext
def systems_add(name, bureaus):
    """Register a system and print its token (shown only this once)."""
    codes = [c for b in bureaus for c in b.replace(",", " ").split()]
    with audit.acting_as("permits-cli", "job"):
        try:
            system, token = add_system(name, codes)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"已登记外部系统 {system.name}，可填报：{' '.join(system.bureau_list)}")
    click.echo("令牌（只显示这一次，请妥善保存）/ token (shown once):")
    click.echo(token)


@systems_cli.command("revoke")
@click.argument("name")
@with_appcontext
def systems_revoke(name):
    """Revoke a system's token; its pushes are refused from now on."""
    with audit.acting_as("permits-cli", "job"):
        try:
            revoke_system(name)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"已吊销外部系统 {name} 的令牌 / token revoked")


@systems_cli.command("list")
@with_appcontext
def systems_list():
    """List the registered systems."""
    for s in db.session.scalars(select(ExternalSystem).order_by(ExternalSystem.name)):
        state = "有效" if s.active else f"已吊销 {s.revoked_on:%Y-%m-%d %H:%M}"
        click.echo(f"{s.name}\t{s.token_hint}…\t{' '.join(s.bureau_list)}\t{state}")


def install(appbuilder, state) -> None:
    """Wire the admin page and the push API (called from :func:`core.wiring.add_core_views`)."""
    appbuilder.add_view(ExternalSystemsView, "ExternalSystems", label=_l("External systems"), icon="fa-plug",
                        category="Security", category_label=_l("Security"))
    appbuilder.add_api(ProjectsPushApi)

