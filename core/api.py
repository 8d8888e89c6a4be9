"""REST API derived from permit-type declarations (FAB ``ModelRestApi``).

Each type is served at ``/api/v1/permits/<code>/``.  The marshmallow schemas
are generated from the declaration, so the API validates exactly as the form
does (the same :meth:`Field.clean`) and answers 422 with
``{"message": {"<field>": ["<Chinese message>"]}}``.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import current_app, request
from flask_appbuilder.api import BaseApi, ModelRestApi, expose, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import protect
from flask_babel import gettext as _, lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields as mf
from marshmallow_sqlalchemy import SQLAlchemySchema

from . import records, toggles
from .extensions import db
from .models import STATUS_DRAFT, STATUSES
from .registry import FieldError
from .scope import ScopeFilter, current_actor, may_see_bureau
from .issuing import IssueApiMixin

_OPENAPI_TYPES = {"text": "string", "integer": "integer", "decimal": "string", "date": "string",
                  "choice": "string", "boolean": "boolean"}


class DeclField(mf.Field):
    """A marshmallow field that cleans through a declared :class:`~core.registry.Field`."""

    def __init__(self, decl, **kwargs):
        self.decl = decl
        meta = {"description": decl.label_with_unit + (f"。{decl.help}" if decl.help else ""),
                "type": _OPENAPI_TYPES.get(decl.kind.name, "string")}
        if decl.kind.name == "choice":
            meta["enum"] = list(decl.kind.options)
        if decl.kind.name == "date":
            meta["format"] = "date"
        super().__init__(metadata=meta, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.decl.clean(value)
        except FieldError as exc:
            raise ValidationError(exc.message) from None

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, Decimal):
            return self.decl.kind.to_text(value)
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        return value



def make_schema(ptype, model, name, *, partial=False, dump_extra=()):
    """A load/dump schema for ``model`` with one :class:`DeclField` per declared field."""
    fields = ptype.all_fields

    class Meta:
        load_instance = True
        sqla_session = db.session
        unknown = "raise"

    Meta.model = model
    attrs = {"Meta": Meta, "id": mf.Integer(dump_only=True)}
    for f in fields:
        required = f.required and not partial
        attrs[f.name] = DeclField(
            f, required=required, allow_none=not f.required,
            error_messages={"required": str(_l("%(label)s is required", label=f.label)),
                            "null": str(_l("%(label)s is required", label=f.label))})
    for extra in dump_extra:
        attrs[extra] = mf.Raw(dump_only=True)
    schema_cls = type(name, (SQLAlchemySchema,), attrs)
    schema_cls.error_messages = {"unknown": str(_l("Unknown field")), "type": str(_l("Expected a JSON object"))}
    return schema_cls()


class PermitRestApi(IssueApiMixin, ModelRestApi):
    """Base of every generated permit API."""

    ptype = None
    allow_browser_login = False
    page_size = 50
    max_page_size = 500

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def post(self):
        """Create a draft permit
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/{{self.__class__.__name__}}.post'
          responses:
            201:
              description: Draft created
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            422:
              $ref: '#/components/responses/422'
        """
        data = request.get_json(silent=True) if request.is_json else None
        if not isinstance(data, dict):
            return self.response_400(message=_("The request body must be a JSON object"))
        data = dict(data)
        bureau_code = data.pop("bureau_code", None)
        own = getattr(current_actor(), "bureau_code", None)
        if not own and (not bureau_code or not may_see_bureau(bureau_code)):
            return self.response_422(message={"bureau_code": [_("Choose the issuing bureau")]})
        try:
            item = self.add_model_schema.load(data)
        except ValidationError as err:
            return self.response_422(message=err.messages)
        item.bureau_code = own or bureau_code
        item.status = STATUS_DRAFT
        records.audit_create(self.ptype, item, via="api")
        db.session.commit()
        return self.response(201, result=self.show_model_schema.dump(item), id=item.id)

    def pre_update(self, item):
        records.audit_update(self.ptype, item, via="api")

    def pre_delete(self, item):
        records.audit_delete(self.ptype, item)

    def put_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is not None and item.status != STATUS_DRAFT:
            return self.response(409, message=_("Only drafts can be edited; this permit is %(status)s",
                                                 status=STATUSES.get(item.status, item.status)))
        if request.is_json and not isinstance(request.get_json(silent=True), dict):
            return self.response_400(message=_("The request body must be a JSON object"))
        try:
            return super().put_headless(pk)
        except records.NoLongerDraft as exc:        # issued by someone else since it was loaded
            db.session.rollback()
            return self.response(409, message=str(exc))

    def delete_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is not None and item.status != STATUS_DRAFT:
            return self.response(409, message=_("Only drafts can be deleted; issued numbers are kept forever"))
        try:
            return super().delete_headless(pk)
        except records.NoLongerDraft as exc:
            db.session.rollback()
            return self.response(409, message=str(exc))


def permit_api_class(ptype, model):
    names = [f.name for f in ptype.all_fields]
    show_extra = ("number", "status", "bureau_code", "issued_on", "trial", "version")
    cls_name = model.__name__ + "Api"
    attrs = dict(
        ptype=ptype,
        resource_name=ptype.code,
        route_base=f"/api/v1/permits/{ptype.code}",
        openapi_spec_tag=ptype.name,
        datamodel=SQLAInterface(model, db.session),
        class_permission_name=ptype.code,
        method_permission_name={"get_list": "list", "get": "show", "post": "add", "put": "edit",
                                "delete": "delete", "info": "list"},
        list_columns=["id"] + list(show_extra) + names,
        show_columns=["id"] + list(show_extra) + names,
        add_columns=names,
        edit_columns=names,
        search_columns=["number", "status", "project_name", "project_code", "holder", "issued_on"],
        order_columns=["id", "number", "issued_on", "project_name"],
        label_columns={f.name: f.label_with_unit for f in ptype.all_fields},
        base_filters=[["bureau_code", ScopeFilter, None]],
        base_order=("id", "desc"),
    )
    cls = type(cls_name, (PermitRestApi,), attrs)
    cls.add_model_schema = make_schema(ptype, model, cls_name + ".post")
    cls.edit_model_schema = make_schema(ptype, model, cls_name + ".put", partial=True)
    cls.show_model_schema = make_schema(ptype, model, cls_name + ".get", dump_extra=show_extra)
    cls.list_model_schema = make_schema(ptype, model, cls_name + ".get_list", dump_extra=show_extra)
    return cls


class PermitTypeSchema(Schema):
    code = mf.String(metadata={"description": "type code"})
    name = mf.String(metadata={"description": "Chinese name"})
    prefix = mf.String(metadata={"description": "certificate prefix character"})
    letters = mf.String(metadata={"description": "two type letters of the number"})
    enabled = mf.Boolean()


class PermitTypesApi(BaseApi):
    resource_name = "permit-types"
    openapi_spec_tag = "Permit types"
    openapi_spec_component_schemas = (PermitTypeSchema,)

    @expose("/", methods=["GET"])
    @safe
    def list_types(self):
        """The installed permit types and whether each is switched on
        ---
        get:
          responses:
            200:
              description: the types
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        type: array
                        items:
                          $ref: '#/components/schemas/PermitTypeSchema'
        """
        registry = current_app.extensions["permits"].registry
        states = toggles.states()
        return self.response(200, result=[
            {"code": t.code, "name": t.name, "prefix": t.prefix_char, "letters": t.letters,
             "enabled": states.get(t.code, True)} for t in registry])
