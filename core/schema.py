"""Schema management: Alembic for the core, declarations for permit types.

``upgrade()`` first runs the core's Alembic migrations (FAB's tables and the
core's own), then brings every installed permit type's detail table in line
with its declaration: a missing table is created, a newly declared field
gets its column.  Nothing is ever dropped or narrowed automatically; such a
difference is reported so an operator can write a migration for it.
"""
from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from flask import current_app
from flask_appbuilder import Model
from sqlalchemy import MetaData, inspect
from alembic.migration import MigrationContext
from alembic.operations import Operations

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def _plugin_tables():
    return {m.__table__.name for m in current_app.extensions["permits"].models.values()}


def core_metadata() -> MetaData:
    """FAB's and the core's tables, without any permit type's detail table."""
    import core.audit  # noqa: F401 - registers its tables
    import core.models  # noqa: F401
    for mod in ("core.numbering", "core.verify", "core.accounts", "core.attachments", "core.systems",
                "core.spotchecks"):
        try:
            __import__(mod)
        except ImportError:
            pass
    detail = {t for t in Model.metadata.tables if t.endswith("_detail")}
    md = MetaData()
    for name, table in Model.metadata.tables.items():
        if name not in detail:
            table.to_metadata(md)
    return md


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic filter: permit-type detail tables are managed from declarations, not migrations."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not (table or "").endswith("_detail")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    return cfg


def sync_declared_tables(engine) -> list[str]:
    """Create missing detail tables and columns; return what was done or refused."""
    notes = []
    state = current_app.extensions["permits"]
    with engine.begin() as conn:
        inspector = inspect(conn)
        existing = set(inspector.get_table_names())
        ops = Operations(MigrationContext.configure(conn))
        for code, model in sorted(state.models.items()):
            table = model.__table__
            if table.name not in existing:
                table.create(conn)
                notes.append(f"created table {table.name}")
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    ops.add_column(table.name, column._copy())
                    notes.append(f"added column {table.name}.{column.name}")
            for name in sorted(have - set(table.columns.keys())):
                notes.append(f"column {table.name}.{name} is no longer declared; kept")
    return notes


def upgrade() -> list[str]:
    from .audit import install_pg_trigger
    engine = current_app.extensions["sqlalchemy"].engine
    command.upgrade(alembic_config(), "heads")
    notes = sync_declared_tables(engine)
    with engine.begin() as conn:
        install_pg_trigger(conn)
    return notes
