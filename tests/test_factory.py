"""The app factory: configuration, secrets, and independent apps side by side."""
from __future__ import annotations

import os
import stat

from conftest import ADMIN_PASSWORD, SAMPLES, api_token, login


def test_two_apps_side_by_side(make_app):
    a = make_app()
    b = make_app()
    assert a.extensions["permits"] is not b.extensions["permits"]
    assert a.extensions["permits"].pm is not b.extensions["permits"].pm
    assert a.appbuilder is not b.appbuilder
    ca, cb = a.test_client(), b.test_client()
    # both log in and work (FAB breaks the first app when an AppBuilder is shared)
    assert "注销" in login(ca).get_data(as_text=True)
    assert "注销" in login(cb).get_data(as_text=True)
    ha = api_token(ca)
    resp = ca.post("/api/v1/permits/rural_permit/", json=dict(SAMPLES["rural_permit"], bureau_code="41010201"),
                   headers=ha)
    assert resp.status_code == 201
    # the record exists in a's database only
    assert ca.get("/api/v1/permits/rural_permit/", headers=ha).json["count"] == 1
    assert cb.get("/api/v1/permits/rural_permit/", headers=api_token(cb)).json["count"] == 0
    # switching a type off in one app does not touch the other
    ca.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "0"})
    assert ca.get("/permits/rural_permit/add").status_code == 403
    assert cb.get("/permits/rural_permit/add").status_code == 200


def test_secret_key_generated_once_into_instance(tmp_path, monkeypatch):
    from core import create_app
    monkeypatch.delenv("PERMITS_SECRET_KEY", raising=False)
    inst = tmp_path / "inst"
    app1 = create_app({"INSTANCE_PATH": str(inst)})
    app2 = create_app({"INSTANCE_PATH": str(inst)})
    key_file = inst / "secret_key"
    assert app1.config["SECRET_KEY"] == app2.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app1.config["SECRET_KEY"]) >= 40
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    other = create_app({"INSTANCE_PATH": str(tmp_path / "other")})
    assert other.config["SECRET_KEY"] != app1.config["SECRET_KEY"]


def test_configuration_from_environment(tmp_path, monkeypatch):
    from core import create_app
    db_file = tmp_path / "env.db"
    monkeypatch.setenv("PERMITS_DATABASE_URL", f"sqlite:///{db_file}")
    monkeypatch.setenv("PERMITS_SECRET_KEY", "from-the-environment-0123456789abcdef")
    monkeypatch.setenv("PERMITS_BASE_URL", "https://permits.example.gov.cn/")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i")})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{db_file}"
    assert app.config["SECRET_KEY"] == "from-the-environment-0123456789abcdef"
    assert app.config["PERMITS_BASE_URL"] == "https://permits.example.gov.cn"
    assert not (tmp_path / "i" / "secret_key").exists()


def test_default_database_is_sqlite_in_instance(tmp_path, monkeypatch):
    from core import create_app
    monkeypatch.delenv("PERMITS_DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i")})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(tmp_path / "i" / "permits.db")


def test_no_secret_constant_in_code():
    from core import config
    assert not hasattr(config, "SECRET_KEY")


def test_init_twice_changes_nothing(app):
    from core import setup
    from core.extensions import db
    from core.models import Bureau
    with app.app_context():
        users = app.appbuilder.sm.count_users()
        bureaus = db.session.query(Bureau).count()
        report = setup.initialise(admin_name="admin", password_source=lambda _p: (ADMIN_PASSWORD, None))
        assert app.appbuilder.sm.count_users() == users
        assert db.session.query(Bureau).count() == bureaus
        assert any("已存在" in line for line in report)


def test_admin_password_file_written_once(tmp_path, monkeypatch):
    from core.cli import _admin_password
    monkeypatch.delenv("PERMITS_ADMIN_PASSWORD", raising=False)
    pw1, where = _admin_password(str(tmp_path))
    pw2, _ = _admin_password(str(tmp_path))
    assert pw1 == pw2 and len(pw1) >= 12
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o600
    monkeypatch.setenv("PERMITS_ADMIN_PASSWORD", "FromEnv2026x")
    assert _admin_password(str(tmp_path)) == ("FromEnv2026x", None)
