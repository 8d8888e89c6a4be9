"""The ``permits`` command: a Flask CLI group on the app factory.

FAB's own commands stay reachable as ``permits fab …``.
"""
from __future__ import annotations

import os
import secrets
import stat
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup, with_appcontext

from . import create_app


def _create_app():
    return create_app()


class PermitsGroup(FlaskGroup):
    """The ``permits`` group: a database that is missing or not initialised gets a plain
    message and exit code 1, not a traceback."""

    def invoke(self, ctx):
        from sqlalchemy.exc import OperationalError, ProgrammingError
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            text = str(getattr(exc, "orig", exc))
            if "no such table" in text or "does not exist" in text:
                click.echo("数据库尚未初始化或结构不是最新：请先运行 permits init（或 permits db upgrade）。\n"
                           f"The database is not initialised or not up to date: run `permits init`. ({text})",
                           err=True)
            else:
                click.echo(f"数据库错误 / database error: {text}", err=True)
            ctx.exit(1)


@click.group(cls=PermitsGroup, create_app=_create_app, add_default_commands=False,
             help="河南省规划用地许可管理系统 (permits) operator commands.")
def main():
    pass


# --- database -------------------------------------------------------------------------

@main.group()
def db():
    """Database schema (Alembic migrations plus declared permit-type tables)."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Bring the database to the current schema, including newly installed permit types."""
    from .schema import upgrade
    for note in upgrade():
        click.echo(note)
    click.echo("数据库已是最新结构 / database is up to date")


@db.command("current")
@with_appcontext
def db_current():
    """Show the current Alembic revision."""
    from alembic import command
    from .schema import alembic_config
    command.current(alembic_config(), verbose=False)


@db.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message):
    """(developers) Autogenerate a migration of the core's tables."""
    from alembic import command
    from .schema import alembic_config
    command.revision(alembic_config(), message=message, autogenerate=True)


# --- init -------------------------------------------------------------------------------

def _admin_password(instance_path: str) -> tuple[str, str | None]:
    """(password, file it was written to or None)."""
    env = os.environ.get("PERMITS_ADMIN_PASSWORD")
    if env:
        return env, None
    path = Path(instance_path) / "admin_password.txt"
    if path.exists():
        return path.read_text().strip(), str(path)
    password = "Hn" + secrets.token_urlsafe(12) + "7"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password, str(path)


@main.command("init")
@click.option("--demo", is_flag=True, help="Also load demo permits (issued certificates of every type).")
@click.option("--admin", "admin_name", default="admin", show_default=True, help="Admin user name.")
@with_appcontext
def init(demo, admin_name):
    """Create or upgrade the tables, sync roles, load bureaus, create the admin. Safe to run twice."""
    from . import setup
    report = setup.initialise(admin_name=admin_name, password_source=_admin_password, demo=demo)
    for line in report:
        click.echo(line)


# --- serve ------------------------------------------------------------------------------

@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=4, show_default=True, type=int)
def run(host, port, workers):
    """Serve with gunicorn (a production WSGI server), several workers."""
    args = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"{host}:{port}",
            "--access-logfile", "-", "--forwarded-allow-ips", os.environ.get("PERMITS_FORWARDED_ALLOW_IPS", "127.0.0.1"),
            "core.wsgi:app"]
    os.execv(sys.executable, args)


if __name__ == "__main__":  # pragma: no cover
    main()
from .bureaus import import_bureaus_command  # noqa: E402
main.add_command(import_bureaus_command)
from .accounts import accounts_cli  # noqa: E402
main.add_command(accounts_cli)

from .auditcli import audit_cli  # noqa: E402
main.add_command(audit_cli)
from .verify import verify_command  # noqa: E402
main.add_command(verify_command)
from .systems import systems_cli  # noqa: E402
main.add_command(systems_cli)

from .spotchecks import spotcheck_cli  # noqa: E402
main.add_command(spotcheck_cli)
