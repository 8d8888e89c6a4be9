"""Engine set-up that keeps SQLite honest under concurrent writers.

On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (the write lock
is taken at the start, so two writers can never both read the same counter
value or chain head, and a reader never has to upgrade its lock mid-way),
the journal is WAL and a busy writer waits instead of failing.  PostgreSQL
needs none of this: its row locks do the work.
"""
from __future__ import annotations

import contextlib

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


@contextlib.contextmanager
def one_round_trip(session):
    """Yield ``execute(statement, params)`` whose statements, and a COMMIT made in this block,
    go to the database in one round trip.

    On PostgreSQL with psycopg this is the driver's pipeline mode: each Core
    statement (compiled once) is queued as it is executed and all go out
    together at the COMMIT (or at the end of the block); an error in any of
    them fails the COMMIT, so nothing is half-written.  Only statements that
    return no rows belong here (nothing can be read before the round trip).
    Elsewhere (SQLite, in process) ``execute`` runs each statement at once.
    """
    conn = session.connection()
    raw = _pipelining(conn)
    if raw is None:
        yield lambda stmt, params: conn.execute(stmt, params)
        return
    dialect = conn.dialect

    def execute(stmt, params):
        sql, bind = _compiled(stmt, dialect)
        cursor = raw.cursor()
        if isinstance(params, list):
            cursor.executemany(sql, [bind(p) for p in params])
        else:
            cursor.execute(sql, bind(params))

    with raw.pipeline():
        yield execute


def run_together(session, statements: list) -> list[list]:
    """Run ``[(statement, params), …]`` in order and return each one's rows (lists of tuples).

    On PostgreSQL with psycopg they go to the server in one round trip
    (pipeline mode), in the session's transaction; an error in any of them
    raises after the round trip and leaves the transaction to be rolled
    back.  Elsewhere they run one after the other.
    """
    conn = session.connection()
    raw = _pipelining(conn)
    if raw is None:
        return [conn.execute(stmt, params).all() for stmt, params in statements]
    cursors = []
    with raw.pipeline():
        for stmt, params in statements:
            sql, bind = _compiled(stmt, conn.dialect)
            cursor = raw.cursor()
            cursor.execute(sql, bind(params))
            cursors.append(cursor)
    return [cursor.fetchall() if cursor.description else [] for cursor in cursors]


def _pipelining(conn):
    """The psycopg connection under ``conn`` when it can pipeline (PostgreSQL), else None."""
    raw = conn.connection.driver_connection
    if conn.dialect.name != "postgresql" or not hasattr(raw, "pipeline"):
        return None
    return raw


_COMPILED: dict = {}


def _compiled(stmt, dialect):
    """(SQL text, params → driver params) of a Core statement, compiled once per dialect."""
    key = (id(stmt), dialect.name)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is stmt:
        return hit[1]
    compiled = stmt.compile(dialect=dialect)
    processors = dict(compiled._bind_processors)

    def bind(params):
        values = compiled.construct_params(params)
        for name, process in processors.items():
            if name in values:
                values[name] = process(values[name])
        return values

    _COMPILED[key] = (stmt, (str(compiled), bind))
    return _COMPILED[key][1]
