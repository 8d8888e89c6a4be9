"""Configuration: flat UPPERCASE defaults, overridden from ``PERMITS_*`` environment variables.

Secrets are never constants here: the secret key is taken from
``PERMITS_SECRET_KEY`` or generated once into the instance folder.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from flask_appbuilder.security.manager import AUTH_DB

AUTH_TYPE = AUTH_DB
APP_NAME = "河南省规划用地许可管理系统"
APP_THEME = ""
BABEL_DEFAULT_LOCALE = "zh"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
LANGUAGES = {"zh": {"flag": "cn", "name": "中文"}, "en": {"flag": "gb", "name": "English"}}
FAB_API_SWAGGER_UI = True
FAB_ADD_SECURITY_API = True   # user/role REST API; core.security fixes FAB 5.3's schema bug and applies the password rules
FAB_CREATE_DB = False          # tables come from migrations (``permits db upgrade``)
FAB_UPDATE_PERMS = False       # permissions are synced by ``permits init``
FAB_SECURITY_MANAGER_CLASS = "core.security.PermitsSecurityManager"
AUTH_ROLE_ADMIN = "省厅管理员"
AUTH_ROLE_PUBLIC = "Public"
WTF_CSRF_ENABLED = True
SQLALCHEMY_TRACK_MODIFICATIONS = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
PERMITS_TYPE_SCOPE = "province"      # numbering counter scope: province | division
PERMITS_LOCK_MINUTES = 15
PERMITS_MAX_FAILED_LOGINS = 5
PERMITS_FIRST_PASSWORD_DAYS = 7
PERMITS_MAX_UPLOAD_MB = 50
PERMITS_BASE_URL = "http://127.0.0.1:8080"
PERMITS_GO_LIVE = None

_ENV = {
    # name: (config key, converter)
    "PERMITS_DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "PERMITS_BASE_URL": ("PERMITS_BASE_URL", lambda v: v.rstrip("/")),
    "PERMITS_GO_LIVE": ("PERMITS_GO_LIVE", dt.date.fromisoformat),
    "PERMITS_NUMBER_SCOPE": ("PERMITS_TYPE_SCOPE", str),
    "PERMITS_SESSION_COOKIE_SECURE": ("SESSION_COOKIE_SECURE", lambda v: v.lower() in ("1", "true", "yes")),
    "PERMITS_LOCK_MINUTES": ("PERMITS_LOCK_MINUTES", int),
    "PERMITS_MAX_FAILED_LOGINS": ("PERMITS_MAX_FAILED_LOGINS", int),
    "PERMITS_FIRST_PASSWORD_DAYS": ("PERMITS_FIRST_PASSWORD_DAYS", int),
    "PERMITS_MAX_UPLOAD_MB": ("PERMITS_MAX_UPLOAD_MB", int),
}


def from_environment(environ=os.environ) -> dict:
    out = {}
    for name, (key, conv) in _ENV.items():
        if environ.get(name):
            out[key] = conv(environ[name])
    if environ.get("PERMITS_SECRET_KEY"):
        out["SECRET_KEY"] = environ["PERMITS_SECRET_KEY"]
    return out


def instance_secret(instance_path: str, name: str = "secret_key", nbytes: int = 32) -> str:
    """Read a secret from the instance folder, creating it (mode 0600) the first time."""
    path = Path(instance_path) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()
