"""Security manager: FAB's, extended with the bureau of each user and the account rules.

The subclasses keep FAB's class names (``AuthDBView``, ``UserDBModelView``,
``ResetMyPasswordView``, ``ResetPasswordView``, ``UserApi``) so endpoints and
permission names stay what FAB and the roles expect.  What they add:

* login: lockout, the first-password deadline, Chinese reasons, audit records
  (:func:`core.accounts.authenticate`); logout is audited;
* the password rules of :mod:`core.accounts` on every path that sets a
  password: the user's own change form, the admin's reset form, the admin's
  add-user form and the user REST API;
* a password set by an admin is provisional (must be changed at next login);
* the user list shows the bureau, the must-change flag and any lock;
* the user REST API (``FAB_ADD_SECURITY_API``) accepts tokens only.
"""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.api import safe
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name, protect
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.sqla.apis.permission_view_menu.api import \
    PermissionViewMenuApi as _FabPermissionViewMenuApi
from flask_appbuilder.security.sqla.apis.user.api import UserApi as _FabUserApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import AuthDBView as _FabAuthDBView
from flask_appbuilder.security.views import ResetMyPasswordView as _FabResetMyPasswordView
from flask_appbuilder.security.views import ResetPasswordView as _FabResetPasswordView
from flask_appbuilder.security.views import RoleModelView as _FabRoleModelView
from flask_appbuilder.security.views import UserDBModelView as _FabUserDBModelView
from flask_appbuilder.security.views import UserGroupModelView as _FabUserGroupModelView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import login_user
from werkzeug.security import check_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from . import accounts, audit, clock
from .extensions import db
from .models import Bureau, PermitUser, utcnow

RULES_HELP = _l("At least 8 characters with letters and digits; not containing the user name; "
                "not a common password")


def _own_name(form):
    return getattr(g.user, "username", None)


def _target_name(form):
    user = current_app.appbuilder.sm.get_user_by_id(request.args.get("pk"))
    return getattr(user, "username", None)


def _not_current(form, field):
    user = current_app.appbuilder.sm.get_user_by_id(g.user.id)
    if user is not None and user.password and check_password_hash(user.password, field.data or ""):
        raise ValidationError(_("The new password must differ from the current one"))


def _password_form(username_of, extra=()):
    class PasswordForm(DynamicForm):
        password = PasswordField(_l("New password"), description=RULES_HELP,
                                 validators=[DataRequired(), accounts.PasswordPolicyValidator(username_of),
                                             *extra],
                                 widget=BS3PasswordFieldWidget())
        conf_password = PasswordField(_l("Confirm the new password"),
                                      validators=[EqualTo("password", message=_l("Passwords must match"))],
                                      widget=BS3PasswordFieldWidget())
    return PasswordForm


class AuthDBView(_FabAuthDBView):
    """Login form with the account rules' Chinese reasons; logout audited (via the manager)."""

    @expose("/login/", methods=["GET", "POST"])
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if form.validate_on_submit():
            next_url = get_safe_redirect(request.args.get("next", ""))
            user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
            if not user:
                flash(as_unicode(g.pop("login_refusal", None) or self.invalid_login_message), "warning")
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
            login_user(user, remember=False)
            if user.must_change_password:
                return redirect(url_for("ResetMyPasswordView.this_form_get"))
            return redirect(next_url)
        response = self.render_template(self.login_template, title=self.title, form=form,
                                        appbuilder=self.appbuilder)
        return response


class ResetMyPasswordView(_FabResetMyPasswordView):
    """The user's own change form (also the forced first-login page)."""

    form = _password_form(_own_name, extra=(_not_current,))
    form_title = _l("Change your password")
    message = _l("Your password has been changed")

    def form_get(self, form):
        if getattr(g.user, "must_change_password", False):
            flash(_("Please set a new password before you continue: the current one is provisional."),
                  "warning")

    def form_post(self, form):
        user = self.appbuilder.sm.get_user_by_id(g.user.id)
        accounts.set_password(user, form.password.data, provisional=False)
        db.session.commit()
        flash(as_unicode(self.message), "info")


class ResetPasswordView(_FabResetPasswordView):
    """An admin sets another user's password: the rules apply, and it is provisional."""

    form = _password_form(_target_name)
    form_title = _l("Set a provisional password")
    message = _l("Password set; the user must change it at the next login")

    def form_post(self, form):
        user = self.appbuilder.sm.get_user_by_id(request.args.get("pk"))
        if user is None:
            flash(_("Not found"), "danger")
            return
        accounts.set_password(user, form.password.data, provisional=True, reason="admin reset")
        db.session.commit()
        flash(as_unicode(self.message), "info")


def _yes_no(value):
    return _("Yes") if value else _("No")


def _local_time(value):
    """A stored UTC time as local time for display; empty for none."""
    return clock.format_local(value, "%Y-%m-%d %H:%M")


class UserDBModelView(_FabUserDBModelView):
    """The user list and forms with bureau, must-change flag and lock; password rules on add."""

    add_form_extra_fields = {
        "password": PasswordField(_l("Password"), description=RULES_HELP,
                                  validators=[DataRequired(),
                                              accounts.PasswordPolicyValidator(lambda f: f.username.data)],
                                  widget=BS3PasswordFieldWidget()),
        "conf_password": PasswordField(_l("Confirm Password"),
                                       validators=[DataRequired(),
                                                   EqualTo("password", message=_l("Passwords must match"))],
                                       widget=BS3PasswordFieldWidget()),
    }
    list_columns = ["username", "first_name", "bureau_code", "active", "must_change_password",
                    "locked_until", "roles", "last_login"]
    add_columns = ["first_name", "last_name", "username", "bureau_code", "active", "email", "roles",
                   "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "bureau_code", "active", "email", "roles"]
    show_fieldsets = [
        (_l("User info"), {"fields": ["username", "bureau_code", "active", "roles", "login_count"]}),
        (_l("Password"), {"fields": ["must_change_password", "password_changed_on", "failed_logins",
                                     "locked_until"]}),
        (_l("Personal Info"), {"fields": ["first_name", "last_name", "email"], "expanded": True}),
        (_l("Audit Info"), {"fields": ["last_login", "fail_login_count", "created_on", "created_by",
                                       "changed_on", "changed_by"], "expanded": False}),
    ]
    search_columns = ["username", "first_name", "bureau_code", "active", "must_change_password", "roles"]
    description_columns = dict(_FabUserDBModelView.description_columns, **{
        "active": _l("Disable an account instead of deleting it; re-enabling requires a new password at the "
                     "next login"),
        "bureau_code": _l("The bureau the user works for (its 8-character code); empty for province "
                          "administrators"),
    })
    formatters_columns = {
        "active": lambda v: _yes_no(v), "must_change_password": lambda v: _yes_no(v),
        "locked_until": lambda v: _local_time(v), "last_login": lambda v: _local_time(v),
        "password_changed_on": lambda v: _local_time(v),
    }
    label_columns = dict(_FabUserDBModelView.label_columns, **{
        "first_name": _l("Name"),
        "bureau_code": _l("Bureau code"), "must_change_password": _l("Must change password"),
        "password_changed_on": _l("Password set on"), "failed_logins": _l("Failed logins in a row"),
        "locked_until": _l("Locked until"),
    })

    def _check_bureau(self, item):
        with db.session.no_autoflush:
            known = not item.bureau_code or db.session.get(Bureau, item.bureau_code) is not None
        if not known:
            raise ValueError(_("Unknown bureau code: %(code)s", code=item.bureau_code))
        item.bureau_code = item.bureau_code or None

    def pre_add(self, item):
        self._check_bureau(item)
        super().pre_add(item)
        item.must_change_password = True           # an admin chose it: provisional
        item.password_changed_on = utcnow()
        item.failed_logins = 0

    def post_add(self, item):
        audit.record("account.create", obj_type="user", obj_id=item.username, obj_bureau=item.bureau_code,
                     after={"roles": [r.name for r in item.roles], "must_change_password": True})
        db.session.commit()

    def process_form(self, form, is_created):
        # called before the form is copied onto the record: remember whether it was active
        if not is_created and getattr(form, "_id", None) is not None:
            user = self.appbuilder.sm.get_user_by_id(form._id)
            g.permits_user_was_active = bool(user and user.active)
        super().process_form(form, is_created)

    def pre_update(self, item):
        was = g.pop("permits_user_was_active", item.active)
        self._check_bureau(item)
        super().pre_update(item)
        if item.active and not was:
            # re-enabled: the current password becomes provisional again
            item.must_change_password = True
            item.password_changed_on = utcnow()
            item.failed_logins = 0
            item.locked_until = None
            audit.record("account.enable", obj_type="user", obj_id=item.username, obj_bureau=item.bureau_code,
                         before={"active": False}, after={"active": True, "must_change_password": True})
        elif was and not item.active:
            audit.record("account.disable", obj_type="user", obj_id=item.username, obj_bureau=item.bureau_code,
                         before={"active": True}, after={"active": False})


class UserApi(_FabUserApi):
    """FAB's user REST API: token only, the password rules, admin-set passwords provisional."""

    allow_browser_login = False

    def _rules(self, password, username):
        problems = accounts.password_problems(password, username)
        if problems:
            return self.response_422(message={"password": problems})
        return None

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def post(self):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.response_400(message=_("The request body must be a JSON object"))
        refused = self._rules(data.get("password"), data.get("username"))
        if refused is not None:
            return refused
        response = _FabUserApi.post(self)
        if response.status_code == 201:
            user = self.appbuilder.sm.find_user(username=data.get("username"))
            if user is not None:
                user.must_change_password = True
                user.password_changed_on = utcnow()
                audit.record("account.create", obj_type="user", obj_id=user.username,
                             obj_bureau=user.bureau_code, after={"must_change_password": True, "via": "api"})
                db.session.commit()
        return response

    @expose("/<pk>", methods=("PUT",))
    @protect()
    @safe
    @permission_name("put")
    def put(self, pk):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.response_400(message=_("The request body must be a JSON object"))
        user = self.appbuilder.sm.get_user_by_id(pk)
        if user is None:
            return self.response_404()
        if "password" in data:
            refused = self._rules(data.get("password"), data.get("username") or user.username)
            if refused is not None:
                return refused
        response = _FabUserApi.put(self, pk)
        if response.status_code == 200:
            # FAB echoes the request body back: never send a password back
            response = self.response(200, result={k: v for k, v in data.items() if k != "password"})
        if response.status_code == 200 and data.get("password"):
            user = self.appbuilder.sm.get_user_by_id(pk)
            user.must_change_password = True
            user.password_changed_on = utcnow()
            audit.record("auth.password_reset", obj_type="user", obj_id=user.username,
                         obj_bureau=user.bureau_code, after={"must_change_password": True, "via": "api"})
            db.session.commit()
        return response


class PermissionViewMenuApi(_FabPermissionViewMenuApi):
    """FAB 5.3 names the foreign-key columns, which marshmallow-sqlalchemy 1.x leaves out of
    its schemas (``KeyError: 'permission_id'``); the relationships load the same ids."""

    add_columns = ["permission", "view_menu"]
    edit_columns = ["permission", "view_menu"]


class RoleModelView(_FabRoleModelView):
    label_columns = dict(_FabRoleModelView.label_columns, user=_l("Users"), groups=_l("Groups"))


class UserGroupModelView(_FabUserGroupModelView):
    label_columns = {"name": _l("Name"), "label": _l("Label"), "description": _l("Description"),
                     "users": _l("Users"), "roles": _l("Roles")}


class PermitsSecurityManager(SecurityManager):
    user_model = PermitUser
    rolemodelview = RoleModelView
    groupmodelview = UserGroupModelView
    # FAB's login-count chart is English-only and says nothing the audit list does not
    userstatschartview = None
    authdbview = AuthDBView
    userdbmodelview = UserDBModelView
    resetmypasswordview = ResetMyPasswordView
    resetpasswordview = ResetPasswordView
    user_api = UserApi
    permission_view_menu_api = PermissionViewMenuApi

    def auth_user_db(self, username, password):
        return accounts.authenticate(self, username, password)

    def on_user_logout(self, user):
        super().on_user_logout(user)
        accounts.record_logout(user)


def guard_actions():
    """``before_request``: FAB's single-record action route (``…/action/<name>/<pk>``) fetches the
    record *without* the view's base filters (so without the bureau scope), and answers a server
    error for an unknown action name.  Answer 404 for both, before FAB sees the request."""
    endpoint = request.endpoint or ""
    if not endpoint.endswith(".action"):
        return None
    view = getattr(current_app.view_functions.get(endpoint), "__self__", None)
    if view is None or not hasattr(view, "actions") or not hasattr(view, "datamodel"):
        return None
    args = request.view_args or {}
    name = args.get("name")
    if name not in view.actions:
        abort(404)
    sm = current_app.appbuilder.sm
    if not sm.has_access(view.get_action_permission_name(name), view.class_permission_name):
        abort(403)                  # FAB would redirect with a flash; say it plainly
    pk = view._deserialize_pk_if_composite(args.get("pk"))
    if view.datamodel.get(pk, view._base_filters) is None:
        abort(404)
    if isinstance(view, _FabUserDBModelView) and str(pk) != str(getattr(g.user, "id", None)) \
            and not sm.has_access("can_show", view.class_permission_name):
        abort(404)                  # a user's self-service actions are for the user's own record
    return None
