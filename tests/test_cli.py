"""The `permits` command group: init, db upgrade, FAB's commands, run."""
from __future__ import annotations

import subprocess
import sys

from core.cli import main


def test_db_upgrade_and_init_through_the_cli(app):
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "数据库已是最新结构" in result.output
    result = runner.invoke(main, ["init"], env={"PERMITS_ADMIN_PASSWORD": "Admin2026pass"})
    assert result.exit_code == 0, result.output
    assert "管理员 admin 已存在" in result.output


def test_fab_commands_stay_reachable(app):
    result = app.test_cli_runner().invoke(main, ["fab", "--help"])
    assert result.exit_code == 0 and "create-admin" in result.output


def test_run_uses_gunicorn(app, monkeypatch):
    calls = []
    monkeypatch.setattr("os.execv", lambda exe, args: calls.append(args))
    result = app.test_cli_runner().invoke(main, ["run", "--port", "8099", "--workers", "3"])
    assert result.exit_code == 0, result.output
    args = calls[0]
    assert args[1:3] == ["-m", "gunicorn"] and "--workers" in args and "3" in args
    assert "127.0.0.1:8099" in args and args[-1] == "core.wsgi:app"


def test_permits_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "core.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("init", "run", "db", "fab"):
        assert command in out.stdout


def test_uninitialised_database_gets_a_message_not_a_traceback(tmp_path):
    from conftest import build_app
    app = build_app(tmp_path, init=False)
    result = app.test_cli_runner().invoke(main, ["accounts", "enforce"])
    assert result.exit_code == 1
    assert "permits init" in result.output and "Traceback" not in result.output
