"""业务类型管理: switching a type off and on at run time, without losing data."""
from __future__ import annotations

from conftest import SAMPLES, api_token, login


def _count(app, code):
    from core.extensions import db
    with app.app_context():
        return db.session.query(app.extensions["permits"].models[code]).count()


def test_switch_off_and_on(app):
    client = app.test_client()
    login(client)
    headers = api_token(client)
    created = client.post("/api/v1/permits/construction_permit/",
                          json=dict(SAMPLES["construction_permit"], bureau_code="41010201"), headers=headers)
    assert created.status_code == 201
    pk = created.json["id"]
    before = client.get(f"/api/v1/permits/construction_permit/{pk}", headers=headers).json["result"]

    page = client.get("/admin/permit-types/").get_data(as_text=True)
    assert "建设工程规划许可证" in page and "停用" in page
    menu_before = client.get("/").get_data(as_text=True)
    assert "/permits/construction_permit/list/" in menu_before

    resp = client.post("/admin/permit-types/construction_permit/toggle", data={"enabled": "0"},
                       follow_redirects=True)
    assert "已停用：建设工程规划许可证" in resp.get_data(as_text=True)

    # gone for everyone: menu, add/edit pages, API writes (403 with a Chinese message)
    assert "/permits/construction_permit/list/" not in client.get("/").get_data(as_text=True)
    for url in ("/permits/construction_permit/add", f"/permits/construction_permit/edit/{pk}"):
        r = client.get(url)
        assert r.status_code == 403 and "业务类型“建设工程规划许可证”已停用" in r.get_data(as_text=True)
    r = client.post("/api/v1/permits/construction_permit/",
                    json=dict(SAMPLES["construction_permit"], bureau_code="41010201"), headers=headers)
    assert r.status_code == 403 and "已停用" in r.json["message"]
    r = client.put(f"/api/v1/permits/construction_permit/{pk}", json={"holder": "别人"}, headers=headers)
    assert r.status_code == 403
    # still readable by the province admin
    assert client.get(f"/permits/construction_permit/show/{pk}").status_code == 200
    assert client.get(f"/api/v1/permits/construction_permit/{pk}", headers=headers).status_code == 200
    # other types are untouched
    assert client.get("/permits/land_use_permit/add").status_code == 200
    listed = {t["code"]: t["enabled"] for t in client.get("/api/v1/permit-types/").json["result"]}
    assert listed["construction_permit"] is False and listed["land_use_permit"] is True

    client.post("/admin/permit-types/construction_permit/toggle", data={"enabled": "1"})
    assert client.get("/permits/construction_permit/add").status_code == 200
    assert "/permits/construction_permit/list/" in client.get("/").get_data(as_text=True)
    after = client.get(f"/api/v1/permits/construction_permit/{pk}", headers=headers).json["result"]
    assert after == before
    assert _count(app, "construction_permit") == 1


def test_switch_is_seen_by_another_process_without_restart(make_app, tmp_path):
    """Two app instances on one database stand for two worker processes."""
    first = make_app()
    db_url = first.config["SQLALCHEMY_DATABASE_URI"]
    from conftest import build_app
    other_dir = tmp_path / "worker2"
    other_dir.mkdir()
    second = build_app(other_dir, database_url=db_url, init=False)
    c1, c2 = first.test_client(), second.test_client()
    login(c1)
    login(c2)
    assert c2.get("/permits/rural_permit/add").status_code == 200
    c1.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "0"})
    assert c2.get("/permits/rural_permit/add").status_code == 403
    c1.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "1"})
    assert c2.get("/permits/rural_permit/add").status_code == 200
    with second.app_context():
        from core.extensions import db
        db.session.remove()
        db.engine.dispose()


def test_toggle_page_needs_admin(app):
    client = app.test_client()
    resp = client.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "0"})
    assert resp.status_code in (302, 401, 403)
    with app.app_context():
        from core.extensions import db
        from core.models import PermitTypeSetting
        assert db.session.get(PermitTypeSetting, "rural_permit") is None


def test_switched_off_type_has_no_excel_template_or_import(app):
    client = app.test_client()
    login(client)
    headers = api_token(client)
    assert client.get("/filing/rural_permit/template.xlsx").status_code == 200
    client.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "0"})
    assert client.get("/filing/rural_permit/template.xlsx").status_code == 403
    assert client.get("/api/v1/permits/rural_permit/template.xlsx", headers=headers).status_code == 403
    assert client.post("/api/v1/permits/rural_permit/import", headers=headers, data={}).status_code == 403
