"""Engine set-up that keeps SQLite honest under concurrent writers.

On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (the write lock
is taken at the start, so two writers can never both read the same counter
value or chain head, and a reader never has to upgrade its lock mid-way),
the journal is WAL and a busy writer waits instead of failing.  PostgreSQL
needs none of this: its row locks do the work.
"""
from __future__ import annotations

from sqlalchemy import event


def configure_engine_options(app) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 60, "check_same_thread": False})
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def install_sqlite_begin(engine) -> None:
    if engine.dialect.name != "sqlite" or getattr(engine, "_permits_begin", False):
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine._permits_begin = True
