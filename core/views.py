"""Web pages derived from permit-type declarations, and the type switchboard.

:func:`permit_view_class` turns a :class:`~core.registry.PermitType` into a
FAB ``ModelView``: labels, fieldsets, list and search columns and the form
fields with their validators all come from the declaration; the bureau of a
new record comes from the clerk, never from the form.
"""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, ModelView, expose, has_access
from flask_appbuilder.fieldwidgets import (BS3TextAreaFieldWidget, BS3TextFieldWidget,
                                           DatePickerWidget, Select2Widget)
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l, gettext as _
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import ValidationError

from . import clock, records, toggles
from .extensions import db
from .models import STATUS_DRAFT, STATUSES, Bureau
from .registry import Choice, Date, FieldError, Text, YesNo
from .scope import ScopeFilter, current_actor, may_see_bureau
from .issuing import IssueViewMixin


class DeclarationValidator:
    """WTForms validator that cleans a raw value through its declared field.

    On success the form field's data is replaced by the clean Python value,
    so ``populate_obj`` stores a Decimal, a date or a bool, not text.
    """

    def __init__(self, decl):
        self.decl = decl
        self.field_flags = {"required": True} if decl.required else {}

    def __call__(self, form, field):
        raw = field.data
        if self.decl.kind.name == "boolean" and raw in ("", None):
            raw = None
        try:
            field.data = self.decl.clean(raw)
        except FieldError as exc:
            field.data = raw
            raise ValidationError(exc.message) from None


def form_field(decl):
    """The WTForms field of one declared field."""
    validators = [DeclarationValidator(decl)]
    kind = decl.kind
    label = decl.label_with_unit
    if isinstance(kind, Choice):
        choices = ([SelectChoice("", "")] if not decl.required else []) + [SelectChoice(o) for o in kind.options]
        return SelectField(label, choices=choices, validators=validators, description=decl.help,
                           widget=Select2Widget(), validate_choice=False)
    if isinstance(kind, YesNo):
        return _YesNoField(label, choices=[SelectChoice("", ""), SelectChoice("是"), SelectChoice("否")], validators=validators,
                           description=decl.help, widget=Select2Widget(), validate_choice=False)
    if isinstance(kind, Date):
        return _DateText(label, validators=validators, description=decl.help, widget=DatePickerWidget())
    widget = BS3TextAreaFieldWidget() if isinstance(kind, Text) and kind.multiline else BS3TextFieldWidget()
    return _PlainText(label, validators=validators, description=decl.help, widget=widget)


class _PlainText(StringField):
    def process_formdata(self, valuelist):
        self.data = valuelist[0] if valuelist else None


class _DateText(_PlainText):
    def _value(self):
        return self.data.isoformat() if hasattr(self.data, "isoformat") else (self.data or "")


class _YesNoField(SelectField):
    def process_data(self, value):
        self.data = {True: "是", False: "否"}.get(value, value)

    def _value(self):
        return {True: "是", False: "否"}.get(self.data, self.data or "")

    def pre_validate(self, form):
        pass


#: Templates shown on every permit's page, in order.  Core modules add theirs
#: with :func:`register_show_panel`; each gets ``item``, ``ptype`` and ``view``.
SHOW_PANELS: list[str] = []


def register_show_panel(template: str) -> None:
    if template not in SHOW_PANELS:
        SHOW_PANELS.append(template)


class PermitModelView(IssueViewMixin, ModelView):
    """Base of every generated permit view.  Subclassed per type by :func:`permit_view_class`."""

    ptype = None
    list_template = "appbuilder/general/model/list.html"
    show_template = "permits/show.html"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    base_order = ("id", "desc")
    page_size = 20

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        pk = self._deserialize_pk_if_composite(pk)
        widgets = self._show(pk)           # 404 when the scope hides it
        item = self.datamodel.get(pk, self._base_filters)
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views, item=item, ptype=self.ptype,
                                    view=self, panels=list(SHOW_PANELS))

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        """Only drafts open in the edit form; an issued permit goes back to its page (变更 is there)."""
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if item is None:
            abort(404)
        if item.status != STATUS_DRAFT:
            flash(_("Only drafts can be edited; this permit is %(status)s",
                    status=STATUSES.get(item.status, item.status)), "warning")
            return redirect(url_for(f"{self.endpoint}.show", pk=item.id))
        return super().edit(pk)

    def post_add(self, item):
        g.permits_added_id = item.id

    def post_add_redirect(self):
        """After saving a new draft, show it: attachments and 发证 are on its page."""
        added = g.pop("permits_added_id", None)
        if added is not None:
            return redirect(url_for(f"{self.endpoint}.show", pk=added))
        return super().post_add_redirect()

    @expose("/delete/<pk>", methods=["GET", "POST"])
    @has_access
    def delete(self, pk):
        """Deleting a draft only by the list's POST form (with its CSRF token), never by a GET link."""
        if request.method != "POST":
            abort(405)
        return super().delete(pk)

    def pre_add(self, item):
        user = current_actor()
        own = getattr(user, "bureau_code", None)
        if own:
            # whatever the form said (setting the relationship to None would null the column at flush)
            item.bureau = db.session.get(Bureau, own)
            item.bureau_code = own
        elif item.bureau is not None:
            item.bureau_code = item.bureau.code
        if not item.bureau_code or not may_see_bureau(item.bureau_code, user):
            raise ValueError(_("Choose the issuing bureau"))
        item.status = STATUS_DRAFT
        records.audit_create(self.ptype, item)

    def pre_update(self, item):
        if item.status != STATUS_DRAFT:
            raise ValueError(_("Only drafts can be edited; this permit is %(status)s",
                               status=STATUSES.get(item.status, item.status)))
        records.audit_update(self.ptype, item)

    def pre_delete(self, item):
        if item.status != STATUS_DRAFT:
            raise ValueError(_("Only drafts can be deleted; issued numbers are kept forever"))
        records.audit_delete(self.ptype, item)


def _who(user) -> str:
    """A record's creator/changer: a user, or (for system jobs and pushes) see the history."""
    return str(user) if user is not None else str(_l("System (see the history)"))


def permit_view_class(ptype, model):
    """Build the FAB ModelView of one permit type from its declaration."""
    fields = ptype.all_fields
    names = [f.name for f in fields]
    labels = {f.name: f.label_with_unit for f in fields}
    labels.update({
        "number": _l("Certificate number"), "status_name": _l("Status"), "status": _l("Status"),
        "bureau": _l("Issuing bureau"), "issued_on": _l("Issue date"), "created_on": _l("Created on"),
        "changed_on": _l("Changed on"), "created_by": _l("Created by"), "changed_by": _l("Changed by"),
        "version": _l("Version"), "trial": _l("Trial"),
    })
    fieldsets = [(title, {"fields": cols}) for title, cols in ptype.fieldsets]
    show_fieldsets = [(str(_l("Certificate")), {"fields": ["number", "status", "bureau", "issued_on"]})] \
        + fieldsets + [(str(_l("Record")), {"fields": ["created_by", "created_on", "changed_by", "changed_on"]})]
    add_fieldsets = [(str(_l("Issuing bureau")), {"fields": ["bureau"]})] + fieldsets
    list_cols = ["number", "project_name", "holder", "bureau", "status", "issued_on"]
    search_cols = ["number", "project_name", "project_code", "holder", "location", "status", "issued_on"] + [
        f.name for f in ptype.fields if f.kind.name in ("text", "choice", "date")][:6]
    attrs = dict(
        ptype=ptype,
        datamodel=SQLAInterface(model, db.session),
        class_permission_name=ptype.code,
        route_base=f"/permits/{ptype.code}",
        list_title=f"{ptype.name} · " + str(_l("List")),
        show_title=f"{ptype.name} · " + str(_l("Details")),
        add_title=f"{ptype.name} · " + str(_l("New draft")),
        edit_title=f"{ptype.name} · " + str(_l("Edit draft")),
        label_columns=labels,
        list_columns=list_cols,
        search_columns=search_cols,
        add_columns=["bureau"] + names,
        edit_columns=names,
        show_columns=["number", "status", "bureau", "issued_on"] + names,
        order_columns=["number", "project_name", "holder", "status", "issued_on"],
        add_fieldsets=add_fieldsets,
        edit_fieldsets=fieldsets,
        show_fieldsets=show_fieldsets,
        add_form_extra_fields={f.name: form_field(f) for f in fields},
        edit_form_extra_fields={f.name: form_field(f) for f in fields},
        add_form_query_rel_fields={"bureau": [["code", ScopeFilter, None]]},
        base_filters=[["bureau_code", ScopeFilter, None]],
        formatters_columns={**{f.name: (lambda v, _f=f: _f.display(v)) for f in fields},
                            "status": lambda v: STATUSES.get(v, v),
                            "number": lambda v: v or "—", "issued_on": lambda v: v or "—",
                            "created_on": lambda v: clock.format_local(v), "changed_on": lambda v: clock.format_local(v),
                            "created_by": _who, "changed_by": _who},
        description_columns={f.name: f.help for f in fields if f.help},
    )
    cls = type(model.__name__ + "View", (PermitModelView,), attrs)
    return cls


class PermitTypesView(BaseView):
    """业务类型管理: every installed type with an on/off switch."""

    route_base = "/admin/permit-types"
    class_permission_name = "permit_types"
    method_permission_name = {"index": "list", "toggle": "edit"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        registry = current_app.extensions["permits"].registry
        states = toggles.states()
        rows = [(t, states.get(t.code, True)) for t in registry]
        return self.render_template("permits/permit_types.html", rows=rows,
                                    title=_("Permit types"))

    @expose("/<code>/toggle", methods=["POST"])
    @has_access
    def toggle(self, code):
        registry = current_app.extensions["permits"].registry
        if code not in registry:
            abort(404)
        enabled = request.form.get("enabled") == "1"
        toggles.set_enabled(code, enabled)
        flash(_("%(name)s is now switched on", name=registry[code].name) if enabled
              else _("%(name)s is now switched off", name=registry[code].name), "info")
        return redirect(url_for("PermitTypesView.index"))
