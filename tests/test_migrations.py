"""The shipped migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory


def test_one_head(app):
    with app.app_context():
        from core.schema import alembic_config
        heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


def test_migrations_match_models(any_app):
    with any_app.app_context():
        from core.extensions import db
        from core.schema import core_metadata, include_object
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False, "include_object": include_object}),
                                    core_metadata())
    assert diff == [], "models and migrations differ: write a migration (permits db revision -m …)"
