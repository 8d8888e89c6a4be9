"""Who may see what: the one place that scopes queries to the current actor.

Every query that returns permits (and later attachments, audit records and
statistics) goes through :func:`restrict`.  Views and APIs never build their
own bureau filter.

* province admins (role ``省厅管理员``) see every bureau;
* city reviewers (role ``市级审核``) see the bureaus of their city;
* everyone else sees their own bureau only, and nothing without one;
* an external system (push API) sees the bureaus it was registered for.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context
from flask_appbuilder.models.filters import BaseFilter
from sqlalchemy import false, select

from .models import Bureau

ROLE_PROVINCE = "省厅管理员"
ROLE_CITY = "市级审核"
ROLE_CLERK = "县级经办"
ROLE_INSPECTOR = "抽查人员"


def current_actor():
    """The logged-in user of this request, or None."""
    if not has_request_context():
        return None
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def role_names(user) -> set:
    return {r.name for r in getattr(user, "roles", []) or []}


def is_province(user) -> bool:
    return user is not None and (ROLE_PROVINCE in role_names(user)
                                 or current_app.config["AUTH_ROLE_ADMIN"] in role_names(user))


def visible_bureaus_clause(user, bureau_column):
    """A SQL condition on ``bureau_column`` limiting rows to what ``user`` may see (None = all)."""
    if user is None:
        return false()
    if is_province(user):
        return None
    own = getattr(user, "bureau_code", None)
    if not own:
        return false()
    if ROLE_CITY in role_names(user):
        city = select(Bureau.city).where(Bureau.code == own).scalar_subquery()
        return bureau_column.in_(select(Bureau.code).where(Bureau.city == city))
    return bureau_column == own


def restrict(query, model, user=None):
    """Scope a Query/Select over ``model`` (with ``bureau_code``, or the Bureau table itself) to the actor."""
    user = current_actor() if user is None else user
    column = model.bureau_code if hasattr(model, "bureau_code") else model.code
    clause = visible_bureaus_clause(user, column)
    return query if clause is None else query.filter(clause)


def restrict_to_system(query, model, system):
    """Scope a query to an external system: the records of the bureaus it may write for."""
    return query.filter(model.bureau_code.in_(system.bureau_list))


def may_see_bureau(bureau_code, user=None) -> bool:
    from .extensions import db
    user = current_actor() if user is None else user
    clause = visible_bureaus_clause(user, Bureau.code)
    if clause is None:
        return user is not None
    return db.session.scalar(select(Bureau.code).where(Bureau.code == bureau_code, clause)) is not None


class ScopeFilter(BaseFilter):
    """FAB base filter applying :func:`restrict`; use as ``["bureau_code", ScopeFilter, None]``."""

    name = "scope"

    def apply(self, query, value):
        return restrict(query, self.model)
