"""Shared fixtures: fresh apps on SQLite (and PostgreSQL when PERMITS_TEST_PG_URL is set)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ADMIN_PASSWORD = "Admin2026pass"
FAST_HASH = "pbkdf2:sha256:1000"


def _reset_pg(url):
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url():
    url = os.environ.get("PERMITS_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("PERMITS_TEST_PG_URL is not set in CI: PostgreSQL tests must run there")
        pytest.skip("PERMITS_TEST_PG_URL not set")
    return url


#: settings that do not change what ``permits init`` writes, so an initialised instance can be reused
_NOT_IN_TEMPLATE = {"WTF_CSRF_ENABLED", "PERMITS_BASE_URL", "TESTING"}
_TEMPLATES: dict = {}


def _config(tmp_path, database_url, overrides):
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key-0123456789abcdef-0123456789-" + tmp_path.name,
        "WTF_CSRF_ENABLED": False,
        "FAB_PASSWORD_HASH_METHOD": FAST_HASH,
        "PERMITS_BASE_URL": "http://permits.test",
    }
    if database_url:
        config["SQLALCHEMY_DATABASE_URI"] = database_url
    config.update(overrides)
    return config


def _initialise(app):
    with app.app_context():
        from core import setup
        setup.initialise(admin_name="admin", password_source=lambda _p: (ADMIN_PASSWORD, None), demo=False)


def _template_instance(overrides) -> Path:
    """An initialised SQLite instance folder for these settings, made once per test session."""
    key = repr(sorted((k, repr(v)) for k, v in overrides.items() if k not in _NOT_IN_TEMPLATE))
    if key not in _TEMPLATES:
        from core import create_app
        root = Path(tempfile.mkdtemp(prefix="permits-template-"))
        app = create_app(_config(root, None, overrides))
        _initialise(app)
        with app.app_context():
            from core.extensions import db
            db.session.remove()
            db.engine.dispose()          # closes the connections: the WAL is checkpointed
        _TEMPLATES[key] = root / "instance"
    return _TEMPLATES[key]


def build_app(tmp_path, database_url=None, init=True, **overrides):
    """A fresh app; with ``init`` its database is initialised as ``permits init`` does.

    On SQLite an initialised instance folder is built once per session and copied for each app,
    which keeps hundreds of apps cheap; PostgreSQL apps are initialised for real.
    """
    from core import create_app
    if init and not database_url and "SQLALCHEMY_DATABASE_URI" not in overrides:
        shutil.copytree(_template_instance(overrides), tmp_path / "instance", dirs_exist_ok=True)
        return create_app(_config(tmp_path, None, overrides))
    app = create_app(_config(tmp_path, database_url, overrides))
    if init:
        _initialise(app)
    return app


@pytest.fixture
def make_app(tmp_path):
    made = []

    def _make(**overrides):
        sub = tmp_path / f"app{len(made)}"
        sub.mkdir()
        app = build_app(sub, **overrides)
        made.append(app)
        return app

    yield _make
    for app in made:
        with app.app_context():
            from core.extensions import db
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, make_app):
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
        return make_app(SQLALCHEMY_DATABASE_URI=url)
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, username="admin", password=ADMIN_PASSWORD):
    page = client.get("/login/")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    data = {"username": username, "password": password}
    if token:
        data["csrf_token"] = token.group(1)
    return client.post("/login/", data=data, follow_redirects=True)


def api_token(client, username="admin", password=ADMIN_PASSWORD):
    resp = client.post("/api/v1/security/login",
                       json={"username": username, "password": password, "provider": "db"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {"Authorization": "Bearer " + resp.json["access_token"]}


SAMPLES = {
    "site_selection": {"project_name": "护航路小学改扩建项目", "holder": "郑州航空港经济综合实验区教育卫生体育局",
                       "location": "凌霜街与飞航路东北角", "construction_basis": "区教育发展规划",
                       "total_area": "0.4850", "planned_scale": "综合楼、学生食堂、配电房"},
    "land_use_permit": {"project_name": "测试用地项目", "holder": "某某置业有限公司", "location": "郑州市二七区某路",
                        "total_area": "12345.67", "land_use": "二类城镇住宅用地", "acquisition": "划拨"},
    "construction_permit": {"project_name": "高台县殡仪馆建设项目", "holder": "高台县民政局",
                            "location": "高台县南华镇", "construction_scale": "总建筑面积9106.49㎡",
                            "total_floor_area": "9106.49"},
    "rural_permit": {"project_name": "村民住宅", "holder": "张三", "location": "某村三组",
                     "construction_scale": "两层砖混住宅"},
    "verification": {"project_name": "林口县育红街休闲广场建设项目", "holder": "林口县住建局",
                     "location": "育红街", "construction_permit_no": "建字第4101022025GG0000001号",
                     "conclusion": "符合规划许可要求"},
}
