"""Issue (发证), print (打印证书) and change (变更) on permit pages and in the REST API.

Mixed into :class:`core.views.PermitModelView` and :class:`core.api.PermitRestApi`:

* pages: ``POST /permits/<code>/issue/<pk>``, ``GET /permits/<code>/certificate/<pk>.pdf``,
  ``GET|POST /permits/<code>/change/<pk>`` (the change form);
* API: ``POST /api/v1/permits/<code>/<id>/issue``, ``GET …/<id>/certificate.pdf``,
  ``POST …/<id>/change``.

Permissions on the type: ``can_issue`` (issue and change) and ``can_print``.
A permit is always looked up through the view's scope filter, so another
bureau's record answers 404.
"""
from __future__ import annotations

import logging

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import expose as api_expose, safe
from flask_appbuilder.security.decorators import protect
from flask_babel import gettext as _, lazy_gettext as _l

from . import certificates, numbering
from .extensions import db
from .models import STATUS_DRAFT, STATUS_ISSUED

log = logging.getLogger(__name__)

PERMISSION_NAMES = {"issue": "issue", "certificate": "print", "change": "issue"}


def _pdf_response(permit, pdf: bytes) -> Response:
    name = certificates.pdf_filename(permit)
    from urllib.parse import quote
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"certificate-{permit.id}.pdf\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


class IssueViewMixin:
    """Page routes for issuing, printing and changing (``can_issue`` / ``can_print``)."""

    change_template = "appbuilder/general/model/edit.html"

    def __init__(self, *args, **kwargs):
        self.method_permission_name = {**(type(self).method_permission_name or {}), **PERMISSION_NAMES}
        super().__init__(*args, **kwargs)
        for perm in ("can_issue", "can_print"):
            if perm not in self.base_permissions:
                self.base_permissions.append(perm)

    def _permit_or_404(self, pk):
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if item is None:
            abort(404)
        return item

    def _show_url(self, item):
        return url_for(f"{self.endpoint}.show", pk=item.id)

    @expose("/issue/<pk>", methods=["POST"])
    @has_access
    def issue(self, pk):
        item = self._permit_or_404(pk)
        try:
            issued = numbering.issue_permit(item)
        except numbering.IssueError as exc:
            for message in exc.messages:
                flash(message, "danger")
            return redirect(self._show_url(item))
        flash(_("Issued with number %(number)s", number=issued.number)
              + ("（试运行）" if issued.trial else ""), "success")
        return redirect(self._show_url(issued.permit))

    @expose("/certificate/<pk>.pdf", methods=["GET"])
    @has_access
    def certificate(self, pk):
        item = self._permit_or_404(pk)
        if not item.number:
            flash(_("Only issued permits have a certificate"), "danger")
            return redirect(self._show_url(item))
        return _pdf_response(item, certificates.certificate_pdf(item, self.ptype))

    @expose("/change/<pk>", methods=["GET", "POST"])
    @has_access
    def change(self, pk):
        item = self._permit_or_404(pk)
        if item.status != STATUS_ISSUED:
            flash(_("Only issued permits can be changed"), "danger")
            return redirect(self._show_url(item))
        names = [f.name for f in self.ptype.all_fields]
        form_class = self._change_form_class()
        if request.method == "POST":
            form = form_class.refresh(request.form)
            if form.validate():
                values = {n: form[n].data for n in names if n in form}
                reason = (request.form.get("change_reason") or "").strip() or None
                try:
                    issued = numbering.change_permit(item, values, reason=reason)
                except numbering.IssueError as exc:
                    for message in exc.messages:
                        flash(message, "danger")
                else:
                    flash(_("Changed: the new version has number %(number)s; %(old)s is now 已变更",
                            number=issued.number, old=item.number), "success")
                    return redirect(self._show_url(issued.permit))
        else:
            form = form_class.refresh(obj=item)
        widgets = {"edit": self.edit_widget(
            form=form, include_cols=list(self.edit_columns) + ["change_reason"],
            fieldsets=list(self.edit_fieldsets) + [(_("Change"), {"fields": ["change_reason"]})])}
        return self.render_template(
            self.change_template, title=f"{self.ptype.name} · " + _("Change %(number)s", number=item.number),
            widgets=widgets, form_action=url_for(f"{self.endpoint}.change", pk=item.id), related_views=[])


    def _change_form_class(self):
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from wtforms import StringField
        from wtforms.validators import Optional
        cls = getattr(type(self), "_permits_change_form", None)
        if cls is None or cls.__bases__[0] is not self.edit_form:
            cls = type("ChangeForm", (self.edit_form,), {"change_reason": StringField(
                _l("Reason for the change"), validators=[Optional()], widget=BS3TextFieldWidget(),
                description=_l("The change gets a new number; the current certificate becomes 已变更 "
                               "and its verification page names the new number."))})
            type(self)._permits_change_form = cls
        return cls


class IssueApiMixin:
    """REST routes for issuing, printing and changing."""

    def __init__(self, *args, **kwargs):
        self.method_permission_name = {**(type(self).method_permission_name or {}), **PERMISSION_NAMES}
        super().__init__(*args, **kwargs)

    def _permit(self, pk):
        return self.datamodel.get(pk, self._base_filters)

    @staticmethod
    def _issued_body(issued):
        p = issued.permit
        return dict(id=p.id, number=issued.number, verification_url=issued.url, trial=issued.trial,
                    issued_on=p.issued_on.isoformat(), status=p.status, version=p.version)

    @api_expose("/<int:pk>/issue", methods=["POST"])
    @protect()
    @safe
    def issue(self, pk):
        """Issue a draft: assign its number, sign its QR, set 发证日期
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: Issued; the body has the number and the verification URL
            404:
              $ref: '#/components/responses/404'
            409:
              description: The permit is not a draft
            422:
              $ref: '#/components/responses/422'
        """
        item = self._permit(pk)
        if item is None:
            return self.response_404()
        if item.status != STATUS_DRAFT:
            return self.response(409, message=_("Only drafts can be issued"))
        try:
            issued = numbering.issue_permit(item)
        except numbering.IssueError as exc:
            if exc.conflict:
                return self.response(409, message=exc.messages[0])
            return self.response_422(message={k: [v] for k, v in exc.errors.items()})
        return self.response(200, **self._issued_body(issued))

    @api_expose("/<int:pk>/certificate.pdf", methods=["GET"])
    @protect()
    @safe
    def certificate(self, pk):
        """The certificate PDF of an issued permit (every print is recorded)
        ---
        get:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: the PDF
              content:
                application/pdf: {}
            404:
              $ref: '#/components/responses/404'
            409:
              description: The permit has not been issued
        """
        item = self._permit(pk)
        if item is None:
            return self.response_404()
        if not item.number:
            return self.response(409, message=_("Only issued permits have a certificate"))
        return _pdf_response(item, certificates.certificate_pdf(item, self.ptype))

    @api_expose("/<int:pk>/change", methods=["POST"])
    @protect()
    @safe
    def change(self, pk):
        """变更: a new version with its own number; the old one becomes 已变更
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  description: the declared fields that change, plus an optional change_reason
          responses:
            200:
              description: Changed; the body has the new number and its verification URL
            404:
              $ref: '#/components/responses/404'
            409:
              description: The permit is not issued
            422:
              $ref: '#/components/responses/422'
        """
        item = self._permit(pk)
        if item is None:
            return self.response_404()
        data = request.get_json(silent=True) if request.is_json else None
        if not isinstance(data, dict):
            return self.response_400(message=_("The request body must be a JSON object"))
        if item.status != STATUS_ISSUED:
            return self.response(409, message=_("Only issued permits can be changed"))
        data = dict(data)
        reason = data.pop("change_reason", None)
        old_number = item.number
        try:
            issued = numbering.change_permit(item, data, reason=reason)
        except numbering.IssueError as exc:
            db.session.rollback()
            if exc.conflict:
                return self.response(409, message=exc.messages[0])
            return self.response_422(message={k: [v] for k, v in exc.errors.items()})
        return self.response(200, previous_number=old_number, **self._issued_body(issued))
