"""撤销: revoking an issued permit, and the public list of revoked certificates.

A province admin may revoke any issued permit, a city reviewer (市级审核)
those of its city's bureaus.  A reason and the decision document number are
required.  The permit becomes 已撤销; its number stays with it and is never
given out again (numbers come from a counter that only moves forward).  The
public verification page reads the status live, so the next scan shows
已撤销 with date and reason; ``/public/revoked`` lists revoked certificates
without login -- number, type, bureau, date, reason, decision -- and never
personal data (ID-card and phone numbers in a reason are masked as well).
"""
from __future__ import annotations

import datetime as dt
import re

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, safe
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.security.decorators import protect
from flask_babel import gettext as _
from sqlalchemy import func, select

from . import audit
from .extensions import db
from .models import STATUS_ISSUED, STATUS_REVOKED, Permit
from .roles import EXTRA
from .scope import ROLE_CITY, current_actor, is_province, may_see_bureau, role_names

PERMISSION = ("can_revoke", "revocation")
EXTRA[ROLE_CITY].append(PERMISSION)

REVOCABLE = (STATUS_ISSUED,)   # a "changed" record is a superseded version: revoke the current one
MAX_REASON, MAX_DOC = 500, 100

_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9A-Za-z])")
_ID_CARD15 = re.compile(r"(?<!\d)\d{15}(?!\d)")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def redact_personal(text: str | None) -> str:
    """Mask ID-card and mobile numbers in free text shown to the public."""
    if not text:
        return ""
    text = _ID_CARD.sub(lambda m: m.group(0)[:3] + "*" * 11 + m.group(0)[-4:], text)
    text = _ID_CARD15.sub(lambda m: m.group(0)[:3] + "*" * 8 + m.group(0)[-4:], text)
    return _PHONE.sub(lambda m: m.group(0)[:3] + "****" + m.group(0)[-4:], text)


def check_csrf() -> None:
    """Refuse (400) a page form posted without its CSRF token.

    FAB checks tokens only in its WTForms forms; plain forms of these pages
    check theirs here (the REST API uses tokens, not cookies, and needs none).
    """
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400)


def today_local() -> dt.date:
    return audit.to_local(dt.datetime.now(dt.timezone.utc)).date()


def may_revoke(permit, user=None) -> bool:
    """Whether ``user`` (default: the current one) may revoke ``permit`` (its state aside)."""
    user = current_actor() if user is None else user
    if user is None or permit is None:
        return False
    if is_province(user):
        return True
    return ROLE_CITY in role_names(user) and may_see_bureau(permit.bureau_code, user)


class RevocationError(Exception):
    def __init__(self, errors: dict, status=422):
        super().__init__(errors)
        self.errors = errors
        self.status = status


def revoke(permit, reason, doc, user=None) -> None:
    """Revoke ``permit`` (audited ``permit.revoke``) and commit; raise :class:`RevocationError`."""
    if not may_revoke(permit, user):
        audit.record("permit.revoke", obj_type=permit.type_code, obj_id=permit.id, obj_bureau=permit.bureau_code,
                     result="refused", reason="无权撤销此许可")
        db.session.commit()
        raise RevocationError({"permit": [_("You may not revoke permits of this bureau")]}, status=403)
    if permit.status not in REVOCABLE:
        raise RevocationError({"status": [_("Only issued permits can be revoked; this permit is %(status)s",
                                            status=permit.status_name)]}, status=409)
    reason = (reason or "").strip()
    doc = (doc or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = [_("The reason for the revocation is required")]
    elif len(reason) > MAX_REASON:
        errors["reason"] = [_("The reason is longer than %(n)s characters", n=MAX_REASON)]
    if not doc:
        errors["decision_no"] = [_("The decision document number is required")]
    elif len(doc) > MAX_DOC:
        errors["decision_no"] = [_("The decision document number is longer than %(n)s characters", n=MAX_DOC)]
    if errors:
        raise RevocationError(errors)
    before = {"status": permit.status}
    permit.status = STATUS_REVOKED
    permit.revoked_on = today_local()
    permit.revoke_reason = reason
    permit.revoke_doc = doc
    audit.record("permit.revoke", obj_type=permit.type_code, obj_id=permit.id, obj_bureau=permit.bureau_code,
                 before=before, after={"status": STATUS_REVOKED, "number": permit.number,
                                       "revoked_on": permit.revoked_on, "revoke_reason": reason,
                                       "revoke_doc": doc}, reason=reason)
    db.session.commit()


def _refuse_hidden(permit) -> None:
    """Record an attempt on a permit outside the actor's scope (the actor is answered 404)."""
    audit.record("permit.revoke", obj_type=permit.type_code, obj_id=permit.id, obj_bureau=permit.bureau_code,
                 result="refused", reason="不在操作者的管辖范围内")
    db.session.commit()


def _load(code, pk):
    state = current_app.extensions["permits"]
    if code not in state.models:
        abort(404)
    permit = db.session.get(state.models[code], pk)
    if permit is None:
        abort(404)
    return state, permit


class RevocationView(BaseView):
    """The form behind the 撤销 panel on a permit's page."""

    route_base = "/revocation"
    class_permission_name = "revocation"
    method_permission_name = {"revoke": "revoke"}
    default_view = "revoke"

    @expose("/<code>/<int:pk>", methods=["POST"])
    @has_access
    def revoke(self, code, pk):
        check_csrf()
        state, permit = _load(code, pk)
        if not may_see_bureau(permit.bureau_code) and not is_province(current_actor()):
            _refuse_hidden(permit)
            abort(404)
        try:
            revoke(permit, request.form.get("reason"), request.form.get("decision_no"))
            flash(_("The permit %(number)s has been revoked", number=permit.number or permit.id), "success")
        except RevocationError as exc:
            db.session.rollback()
            for messages in exc.errors.values():
                for message in messages:
                    flash(message, "danger")
        return redirect(url_for(state.views[code].__name__ + ".show", pk=pk))


class RevocationApi(BaseApi):
    """``POST /api/v1/permits/<code>/<id>/revoke`` with ``{"reason": …, "decision_no": …}``."""

    route_base = "/api/v1/permits"
    resource_name = "permits"
    class_permission_name = "revocation"
    method_permission_name = {"post_revoke": "revoke"}
    openapi_spec_tag = "Revocation"
    allow_browser_login = False

    @api_expose("/<code>/<int:pk>/revoke", methods=["POST"])
    @protect()
    @safe
    def post_revoke(self, code, pk):
        """Revoke an issued permit
        ---
        post:
          parameters:
          - in: path
            name: code
            schema: {type: string}
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    reason: {type: string, description: 撤销理由}
                    decision_no: {type: string, description: 撤销决定文号}
          responses:
            200:
              description: revoked
            403:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        state = current_app.extensions["permits"]
        if code not in state.models:
            return self.response_404()
        permit = db.session.get(state.models[code], pk)
        if permit is None:
            return self.response_404()
        if not (is_province(current_actor()) or may_see_bureau(permit.bureau_code)):
            _refuse_hidden(permit)
            return self.response_404()
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.response_400(message=_("The request body must be a JSON object"))
        try:
            revoke(permit, data.get("reason"), data.get("decision_no"))
        except RevocationError as exc:
            db.session.rollback()
            return self.response(exc.status, message=exc.errors)
        return self.response(200, result={"id": permit.id, "number": permit.number, "status": permit.status,
                                          "revoked_on": permit.revoked_on.isoformat(),
                                          "revoke_reason": permit.revoke_reason, "revoke_doc": permit.revoke_doc})


class PublicRevokedView(BaseView):
    """``/public/revoked``: revoked certificates, without login."""

    route_base = "/public"
    default_view = "revoked"
    PAGE = 50

    @expose("/revoked")
    def revoked(self):
        registry = current_app.extensions["permits"].registry
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        q = select(Permit).where(Permit.status == STATUS_REVOKED, Permit.number.is_not(None))
        total = db.session.scalar(select(func.count()).select_from(q.subquery()))
        rows = db.session.execute(q.order_by(Permit.revoked_on.desc(), Permit.id.desc())
                                  .offset((page - 1) * self.PAGE).limit(self.PAGE)).scalars().all()
        items = [{"number": p.number, "type": registry[p.type_code].name if p.type_code in registry else p.type_code,
                  "bureau": p.bureau.name if p.bureau else p.bureau_code, "revoked_on": p.revoked_on,
                  "reason": redact_personal(p.revoke_reason), "doc": p.revoke_doc} for p in rows]
        pages = max((total + self.PAGE - 1) // self.PAGE, 1)
        return self.render_template("audit/public_revoked.html", items=items, page=page, pages=pages, total=total,
                                    title=_("Revoked certificates"))


REVOKE_PANEL = "audit/revoke_panel.html"
