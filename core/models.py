"""Core tables: bureaus, the common permit record, type switches, users.

Every permit type gets its own detail table, joined to ``permit`` by id
(SQLAlchemy joined-table inheritance).  The common table holds what all
types share -- status, bureau, project, holder, number -- so numbering,
verification, statistics and isolation work on one table, while each type's
declared fields live in ``<code>_detail``.  The detail classes are built
from the declaration by :func:`model_for`.
"""
from __future__ import annotations

from decimal import Decimal

from flask import g, has_request_context
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (Boolean, Column, Date, DateTime, ForeignKey, Integer, Numeric, String,
                        Text, types)
from sqlalchemy.orm import relationship

from .clock import utcnow
from .registry import COMMON_FIELDS, Choice, Date as DateKind, Decimal_, Integer as IntegerKind, \
    PermitType, Text as TextKind, YesNo


class DecimalText(types.TypeDecorator):
    """Exact decimals on every database: NUMERIC where the database has it,
    text on SQLite (which would otherwise round through a float)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision=18, scale=4):
        super().__init__(precision, scale)
        self.scale = scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(self.impl.precision, self.scale))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


STATUS_DRAFT, STATUS_ISSUED, STATUS_CHANGED, STATUS_REVOKED = "draft", "issued", "changed", "revoked"
#: Status values with their Chinese names (the names are what users see).
STATUSES = {STATUS_DRAFT: "草稿", STATUS_ISSUED: "已发证", STATUS_CHANGED: "已变更", STATUS_REVOKED: "已撤销"}


class Bureau(Model):
    """An issuing bureau (审批主体); ``code`` is also its account's user name."""

    __tablename__ = "bureau"
    code = Column(String(8), primary_key=True)
    name = Column(String(100), nullable=False)
    city = Column(String(40), nullable=False)
    division_code = Column(String(6), nullable=False)
    #: the 6-digit code printed in numbers (a development zone's host district)
    host_code = Column(String(6))
    parent_city_code = Column(String(6))
    active = Column(Boolean, nullable=False, default=True)

    @property
    def number_code(self) -> str:
        return self.host_code or self.division_code

    @property
    def city_prefix(self) -> str:
        return self.code[:4]

    def __str__(self):
        return f"{self.name}（{self.code}）"


class PermitUser(User):
    """FAB's user with the bureau it works for and the password-policy state."""

    __tablename__ = "ab_user"
    bureau_code = Column(String(8), ForeignKey("bureau.code"), nullable=True)
    must_change_password = Column(Boolean, nullable=False, default=False)
    password_changed_on = Column(DateTime)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime)


class PermitTypeSetting(Model):
    """Whether an installed permit type is switched on (业务类型管理)."""

    __tablename__ = "permit_type_setting"
    code = Column(String(40), primary_key=True)
    enabled = Column(Boolean, nullable=False, default=True)
    changed_on = Column(DateTime, default=utcnow, onupdate=utcnow)


def _current_user_id():
    if has_request_context():
        user = getattr(g, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return user.id
    return None


class Permit(Model):
    """The common record of every permit, whatever its type."""

    __tablename__ = "permit"
    id = Column(Integer, primary_key=True)
    type_code = Column(String(40), nullable=False, index=True)
    status = Column(String(10), nullable=False, default=STATUS_DRAFT, index=True)
    bureau_code = Column(String(8), ForeignKey("bureau.code"), nullable=False, index=True)
    bureau = relationship(Bureau, lazy="joined")

    project_name = Column(String(200), nullable=False)
    project_code = Column(String(24), index=True)
    holder = Column(String(200), nullable=False)
    location = Column(String(300), nullable=False)
    accepted_on = Column(Date)

    number = Column(String(40), unique=True)
    serial = Column(Integer)
    trial = Column(Boolean, nullable=False, default=False)
    issued_on = Column(Date)
    issued_at = Column(DateTime)
    version = Column(Integer, nullable=False, default=1)
    previous_id = Column(Integer, ForeignKey("permit.id"))
    payload = Column(String(400))
    digest = Column(String(64))
    pdf_sha256 = Column(String(64))
    revoked_on = Column(Date)
    revoke_reason = Column(Text)
    revoke_doc = Column(String(100))

    created_on = Column(DateTime, default=utcnow, nullable=False)
    changed_on = Column(DateTime, default=utcnow, onupdate=utcnow, nullable=False)
    created_by_fk = Column(Integer, ForeignKey("ab_user.id"), default=_current_user_id)
    changed_by_fk = Column(Integer, ForeignKey("ab_user.id"), default=_current_user_id,
                           onupdate=_current_user_id)
    created_by = relationship(User, foreign_keys=[created_by_fk], enable_typechecks=False)
    changed_by = relationship(User, foreign_keys=[changed_by_fk], enable_typechecks=False)

    __mapper_args__ = {"polymorphic_on": type_code}

    @property
    def status_name(self) -> str:
        return STATUSES.get(self.status, self.status)

    def __str__(self):
        return self.number or f"{self.project_name}（草稿 #{self.id}）"


def _column_for(field):
    kind = field.kind
    if isinstance(kind, TextKind):
        return Column(Text if kind.multiline or kind.max_length > 1000 else String(kind.max_length))
    if isinstance(kind, IntegerKind):
        return Column(Integer)
    if isinstance(kind, Decimal_):
        return Column(DecimalText(18, kind.places))
    if isinstance(kind, DateKind):
        return Column(Date)
    if isinstance(kind, Choice):
        return Column(String(max(len(o) for o in kind.options) * 4 if kind.options else 40))
    if isinstance(kind, YesNo):
        return Column(Boolean)
    raise TypeError(f"field {field.name}: unknown kind {kind!r}")


# Mapped classes are process-wide in SQLAlchemy (one MetaData); apps are not.
# A type's class is therefore built once per process and reused by every app
# that registers the same declaration.
_MODELS: dict[str, tuple] = {}


def _signature(ptype: PermitType):
    return tuple((f.name, type(f.kind).__name__, repr(f.kind)) for f in ptype.fields)


def model_for(ptype: PermitType):
    """The SQLAlchemy class of a permit type's detail table, built from its declaration."""
    cached = _MODELS.get(ptype.code)
    if cached:
        signature, cls = cached
        if signature != _signature(ptype):
            raise ValueError(f"permit type {ptype.code!r} is declared twice in this process with different fields")
        return cls
    attrs = {
        "__tablename__": f"{ptype.code}_detail",
        "id": Column(Integer, ForeignKey("permit.id", ondelete="CASCADE"), primary_key=True),
        "__mapper_args__": {"polymorphic_identity": ptype.code},
        "__doc__": f"{ptype.name} ({ptype.code}), generated from its declaration.",
    }
    for f in ptype.fields:
        attrs[f.name] = _column_for(f)
    class_name = "".join(p.capitalize() for p in ptype.code.split("_")) + "Permit"
    cls = type(class_name, (Permit,), attrs)
    _MODELS[ptype.code] = (_signature(ptype), cls)
    return cls


assert {f.name for f in COMMON_FIELDS} <= set(Permit.__table__.columns.keys())
