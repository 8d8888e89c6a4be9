"""Time: stored in UTC, shown in the configured zone (Asia/Shanghai by default).

The only place that knows the zone; every module that shows a time or needs
"today" for a date printed on a certificate asks here.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_ZONE = "Asia/Shanghai"


def utcnow() -> dt.datetime:
    """Now, as a naive UTC datetime (how the database stores times)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def zone() -> ZoneInfo:
    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_ZONE)


def to_local(value: dt.datetime | None) -> dt.datetime | None:
    """A stored (naive UTC) time as an aware local time."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(zone())


def format_local(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S", blank: str = "") -> str:
    local = to_local(value)
    return blank if local is None else local.strftime(fmt)


def local_today() -> dt.date:
    return dt.datetime.now(zone()).date()
