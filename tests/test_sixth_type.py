"""A sixth permit type added as a small plugin gets its table, pages and API with no edit to core/."""
from __future__ import annotations

from sqlalchemy import inspect

from conftest import api_token, build_app, login

BUILTINS = ["plugins.site_selection", "plugins.land_use_permit", "plugins.construction_permit",
            "plugins.rural_permit", "plugins.verification"]
SIX = BUILTINS + ["fake_plugins.hot_work"]
HOT = {"project_name": "厂区检修", "holder": "某化工厂", "location": "某工业园", "applicant": "某化工厂",
       "site_area": "1.5亩", "level": "一级"}


def test_sixth_type_pages_and_api(make_app):
    app = make_app(PERMIT_PLUGINS=SIX)
    assert "hot_work" in app.extensions["permits"].registry
    client = app.test_client()
    login(client)
    html = client.get("/permits/hot_work/add").get_data(as_text=True)
    assert "动火作业许可" in html and "作业面积（平方米）" in html and "等级" in html
    assert "动火作业许可" in client.get("/").get_data(as_text=True)      # in the menu
    headers = api_token(client)
    resp = client.post("/api/v1/permits/hot_work/", json=dict(HOT, bureau_code="41010201"), headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    got = client.get(f"/api/v1/permits/hot_work/{resp.json['id']}", headers=headers).json["result"]
    assert got["site_area"] == "1000.00"          # 1.5 亩 converted to 平方米
    types = {t["code"]: t for t in client.get("/api/v1/permit-types/").json["result"]}
    assert types["hot_work"]["letters"] == "DH" and types["hot_work"]["prefix"] == "火"


def test_db_upgrade_creates_the_table_of_a_newly_installed_plugin(tmp_path):
    first = build_app(tmp_path / "a", PERMIT_PLUGINS=BUILTINS) if (tmp_path / "a").mkdir() is None else None
    url = first.config["SQLALCHEMY_DATABASE_URI"]
    with first.app_context():
        from core.extensions import db
        assert "hot_work_detail" not in inspect(db.engine).get_table_names()
        db.engine.dispose()
    (tmp_path / "b").mkdir()
    second = build_app(tmp_path / "b", database_url=url, init=False, PERMIT_PLUGINS=SIX)
    with second.app_context():
        from core import schema
        from core.extensions import db
        notes = schema.upgrade()
        assert "created table hot_work_detail" in notes
        assert "hot_work_detail" in inspect(db.engine).get_table_names()
        assert schema.upgrade() == []        # a second run changes nothing
        db.engine.dispose()
