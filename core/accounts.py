"""Bureau accounts: password rules, first login, lockout and the first-password deadline.

* Every bureau of the province's table gets one account: user name = the
  bureau's code, first password = the same code, role 县级经办, flagged
  ``must_change_password``.  The first password breaks the rules on purpose
  (it equals the user name), which is why it must be changed.
* Password rules (:func:`password_problems`), the same on every path (the
  change form, the admin's reset and user forms, the user REST API): at least
  8 characters, letters and digits, not containing the user name, not one of
  the commonest passwords (``core/data/common_passwords.txt``).
* A user still on a provisional password is held on the change-password page
  (:func:`first_login_guard`, a ``before_request`` check) until it is changed.
* ``PERMITS_MAX_FAILED_LOGINS`` failures in a row lock the account for
  ``PERMITS_LOCK_MINUTES`` minutes.
* An account still on its first password ``PERMITS_FIRST_PASSWORD_DAYS`` days
  after go-live (``PERMITS_GO_LIVE``) -- or after the day its provisional
  password was set, if later -- is disabled, by ``permits accounts enforce``
  (a daily job) and at login.  ``password_changed_on`` holds the day the
  current password was set, provisional or not.
* ``permits accounts enable USER`` re-enables an account with a fresh
  provisional password that must again be changed at the next login.

Every one of these events is written to the audit chain.
"""
from __future__ import annotations

import datetime as dt
import secrets
import string
from functools import lru_cache
from importlib import resources

import click
from flask import current_app, g, redirect, request, url_for
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from . import audit, clock
from .extensions import db
from .models import PermitUser, utcnow
from .scope import ROLE_CLERK

JOB_NAME = "accounts-enforce"
CHANGE_ENDPOINTS = {"ResetMyPasswordView.this_form_get", "ResetMyPasswordView.this_form_post"}
ALWAYS_ALLOWED = {"AuthDBView.logout", "AuthDBView.login", "static", "appbuilder.static",
                  "LocaleView.index"} | CHANGE_ENDPOINTS


# --- password rules ------------------------------------------------------------------------

@lru_cache(maxsize=1)
def common_passwords() -> frozenset:
    text = resources.files("core").joinpath("data/common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def password_problems(password: str | None, username: str | None) -> list[str]:
    """Chinese messages for each rule ``password`` breaks (empty when it is acceptable)."""
    password = password or ""
    problems = []
    if len(password) < 8:
        problems.append(_("The password must have at least 8 characters"))
    if not (any(c.isascii() and c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        problems.append(_("The password must contain both letters and digits"))
    if username and username.strip().lower() in password.lower():
        problems.append(_("The password must not contain the user name"))
    if password.lower() in common_passwords():
        problems.append(_("This password is one of the most common ones; choose another"))
    return problems


class PasswordPolicyValidator:
    """WTForms validator applying :func:`password_problems`; ``username`` is a callable (form -> name)."""

    def __init__(self, username):
        self.username = username

    def __call__(self, form, field):
        from wtforms.validators import ValidationError
        problems = password_problems(field.data, self.username(form))
        if problems:
            raise ValidationError("；".join(problems))


# --- state changes ---------------------------------------------------------------------------

def _hash(password: str) -> str:
    cfg = current_app.config
    return generate_password_hash(password, method=cfg.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
                                  salt_length=cfg.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))


def set_password(user, password: str, *, provisional: bool, reason: str | None = None) -> None:
    """Store a new password (the caller has checked the rules when ``provisional`` is False).

    A provisional password (first password, admin reset, re-enable) must be
    changed at the next login and starts a new first-password deadline.
    """
    user.password = _hash(password)
    user.must_change_password = provisional
    user.password_changed_on = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    audit.record("auth.password_reset" if provisional else "auth.password_change", obj_type="user",
                 obj_id=user.username, obj_bureau=getattr(user, "bureau_code", None),
                 after={"must_change_password": provisional}, reason=reason)


def temporary_password() -> str:
    """A random provisional password that satisfies the rules."""
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _i in range(12))
        if any(c.isalpha() for c in pw) and any(c.isdigit() for c in pw):
            return pw


def ensure_bureau_account(sm, bureau, record: bool = True) -> bool:
    """Create the account of ``bureau`` (user name and first password = its code). True if created.

    An existing account is never touched: running an import twice changes nothing.
    """
    if sm.find_user(username=bureau.code) is not None:
        return False
    role = sm.find_role(ROLE_CLERK) or sm.add_role(ROLE_CLERK)
    user = PermitUser(username=bureau.code, first_name=bureau.name[:64], last_name=bureau.code,
                      email=f"{bureau.code}@bureau.invalid", active=True, roles=[role],
                      bureau_code=bureau.code, must_change_password=True, password_changed_on=utcnow(),
                      failed_logins=0, created_on=utcnow(), changed_on=utcnow())
    user.password = _hash(bureau.code)
    db.session.add(user)
    if record:
        audit.record("account.create", obj_type="user", obj_id=bureau.code, obj_bureau=bureau.code,
                     after={"roles": [role.name], "must_change_password": True})
    return True


# --- the first-password deadline ---------------------------------------------------------------

def today() -> dt.date:
    return clock.local_today()


def go_live() -> dt.date | None:
    value = current_app.config.get("PERMITS_GO_LIVE")
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    return value


def first_password_deadline(user) -> dt.date | None:
    """The last day ``user`` may keep its provisional password (None: no deadline applies)."""
    start = go_live()
    if start is None or not getattr(user, "must_change_password", False):
        return None
    set_on = user.password_changed_on.date() if user.password_changed_on else None
    if set_on and set_on > start:
        start = set_on
    return start + dt.timedelta(days=int(current_app.config.get("PERMITS_FIRST_PASSWORD_DAYS", 7)))


def is_overdue(user, on: dt.date | None = None) -> bool:
    deadline = first_password_deadline(user)
    return deadline is not None and (on or today()) > deadline


def disable_overdue(user) -> bool:
    """Disable ``user`` if its first password is overdue; True if it was disabled now."""
    if not user.active or not is_overdue(user):
        return False
    user.active = False
    with audit.acting_as(JOB_NAME, "job"):
        audit.record("account.disable", obj_type="user", obj_id=user.username,
                     obj_bureau=getattr(user, "bureau_code", None), before={"active": True},
                     after={"active": False}, reason=_("first password not changed in time"))
    return True


def enforce() -> list[str]:
    """Disable every active account still on its provisional password past its deadline."""
    users = db.session.execute(select(PermitUser).where(PermitUser.must_change_password.is_(True),
                                                        PermitUser.active.is_(True))
                               .order_by(PermitUser.username)).scalars().all()
    disabled = [u.username for u in users if disable_overdue(u)]
    db.session.commit()
    if go_live() is None:
        return [_("No go-live date is set (PERMITS_GO_LIVE): no account was disabled")]
    return [_("Disabled %(n)d accounts whose first password was not changed in time", n=len(disabled))] \
        + [f"  {name}" for name in disabled]


def enable(user) -> str:
    """Re-enable ``user`` with a new provisional password (returned) to be changed at the next login."""
    password = temporary_password()
    before = {"active": user.active, "locked": bool(user.locked_until)}
    user.active = True
    set_password(user, password, provisional=True, reason=_("account re-enabled"))
    audit.record("account.enable", obj_type="user", obj_id=user.username,
                 obj_bureau=getattr(user, "bureau_code", None), before=before,
                 after={"active": True, "must_change_password": True})
    return password


# --- login -------------------------------------------------------------------------------------

def _refuse(message: str | None):
    if message:
        g.login_refusal = message
    return None


def _failed(user_name, user, reason):
    actor = (user_name or "?")[:120], ("user" if user is not None else "anonymous"), \
        getattr(user, "bureau_code", None)
    audit.record("auth.login_failed", obj_type="user", obj_id=(user_name or "")[:64],
                 obj_bureau=getattr(user, "bureau_code", None), result="refused", reason=reason,
                 actor=actor)


def authenticate(sm, username, password):
    """FAB's ``auth_user_db`` with lockout, the first-password deadline and audit records.

    Returns the user or None; on refusal ``g.login_refusal`` holds the Chinese reason.
    """
    from werkzeug.security import check_password_hash
    cfg = current_app.config
    if not username:
        return None
    user = sm.find_user(username=username)
    now = utcnow()
    if user is None:
        check_password_hash(cfg["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")  # same time as a real check
        _failed(username, None, "unknown user")
        db.session.commit()
        return _refuse(None)
    if user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        _failed(username, user, "locked")
        db.session.commit()
        return _refuse(_("Too many failed logins: the account is locked; try again in %(n)d minutes", n=minutes))
    good = bool(password) and check_password_hash(user.password or "", password)
    if not good:
        user.failed_logins = (user.failed_logins or 0) + 1
        user.fail_login_count = (user.fail_login_count or 0) + 1
        _failed(username, user, "wrong password")
        message = None
        if user.failed_logins >= int(cfg.get("PERMITS_MAX_FAILED_LOGINS", 5)):
            minutes = int(cfg.get("PERMITS_LOCK_MINUTES", 15))
            user.locked_until = now + dt.timedelta(minutes=minutes)
            user.failed_logins = 0
            audit.record("account.lock", obj_type="user", obj_id=user.username,
                         obj_bureau=getattr(user, "bureau_code", None), after={"minutes": minutes},
                         reason="too many failed logins", actor=(username, "user", user.bureau_code))
            message = _("Too many failed logins: the account is locked for %(n)d minutes", n=minutes)
        db.session.commit()
        return _refuse(message)
    if user.active and disable_overdue(user):
        db.session.commit()
    if not user.active:
        _failed(username, user, "disabled")
        db.session.commit()
        if user.must_change_password and go_live() is not None and is_overdue(user):
            return _refuse(_("The first password was not changed within %(n)d days of going live: "
                             "the account is disabled. Ask the administrator to re-enable it.",
                             n=int(cfg.get("PERMITS_FIRST_PASSWORD_DAYS", 7))))
        return _refuse(_("The account is disabled. Ask the administrator to re-enable it."))
    if user.must_change_password and request.path.startswith("/api/"):
        _failed(username, user, "must change password")
        db.session.commit()
        return _refuse(_("Log in on the web page and change your first password before using the API"))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login = now
    user.login_count = (user.login_count or 0) + 1
    user.fail_login_count = 0
    audit.record("auth.login", obj_type="user", obj_id=user.username,
                 obj_bureau=getattr(user, "bureau_code", None),
                 after={"via": "api" if request.path.startswith("/api/") else "web"},
                 actor=(user.username, "user", getattr(user, "bureau_code", None)))
    db.session.commit()
    return user


def record_logout(user) -> None:
    if user is None:
        return
    audit.record("auth.logout", obj_type="user", obj_id=user.username,
                 obj_bureau=getattr(user, "bureau_code", None),
                 actor=(user.username, "user", getattr(user, "bureau_code", None)))
    db.session.commit()


def first_login_guard():
    """``before_request``: a user on a provisional password may only change it (or log out)."""
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "must_change_password", False):
        return None
    if request.endpoint in ALWAYS_ALLOWED or request.path.startswith("/static/"):
        return None
    if request.path.startswith("/api/"):
        from flask import jsonify
        return jsonify(message=_("Change your first password before doing anything else")), 403
    return redirect(url_for("ResetMyPasswordView.this_form_get"))


def init_app(app) -> None:
    from .security import guard_actions
    app.before_request(first_login_guard)
    app.before_request(guard_actions)


# --- CLI ---------------------------------------------------------------------------------------

@click.group("accounts")
def accounts_cli():
    """Bureau accounts: the first-password deadline and re-enabling."""


@accounts_cli.command("enforce")
@with_appcontext
def enforce_command():
    """Disable accounts still on their first password past the deadline (run daily by cron)."""
    with audit.acting_as(JOB_NAME, "job"):
        for line in enforce():
            click.echo(line)


@accounts_cli.command("enable")
@click.argument("username")
@with_appcontext
def enable_command(username):
    """Re-enable USER with a new provisional password (printed once), to be changed at the next login."""
    user = db.session.execute(select(PermitUser).where(PermitUser.username == username)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(_("No such user: %(name)s", name=username))
    with audit.acting_as("permits-cli", "job"):
        password = enable(user)
        db.session.commit()
    click.echo(_("Account %(name)s is enabled. Provisional password (to be changed at the next login): "
                 "%(pw)s", name=username, pw=password))
