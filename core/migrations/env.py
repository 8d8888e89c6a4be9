"""Alembic environment: runs inside the app (``permits db upgrade``).

The core's tables are versioned here.  Permit-type detail tables are derived
from the plugins' declarations; ``core.schema.sync_declared_tables`` adds them
(and new columns) after the core migrations have run.
"""
from alembic import context
from flask import current_app

from core.schema import core_metadata, include_object

config = context.config


def run_migrations_online():
    engine = current_app.extensions["sqlalchemy"].engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=core_metadata(),
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
