"""Audit records of permit create/change and type switches; the audit list, export, scope and timeline."""
from __future__ import annotations

import io
import json

from audit_support import PASSWORD, issued_permit, make_user, records_of
from conftest import SAMPLES, api_token, login
from core.scope import ROLE_CITY, ROLE_CLERK, ROLE_INSPECTOR


def _form(code, bureau="41010201", **overrides):
    return {"bureau": bureau, **SAMPLES[code], **overrides}


def test_create_and_change_via_the_form_are_recorded(app):
    make_user(app, "clerk_zy", "41010201", ROLE_CLERK)
    client = app.test_client()
    login(client, "clerk_zy", PASSWORD)
    assert client.get("/permits/land_use_permit/add").status_code == 200
    resp = client.post("/permits/land_use_permit/add", data=_form("land_use_permit"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    [created] = records_of(app, "permit.create", obj_type="land_use_permit")
    assert created.actor == "clerk_zy" and created.actor_kind == "user" and created.actor_bureau == "41010201"
    assert created.obj_bureau == "41010201" and created.client_addr == "127.0.0.1"
    after = json.loads(created.after)
    assert after["project_name"] == "测试用地项目" and after["total_area"] == "12345.67"
    pk = created.obj_id
    assert client.get(f"/permits/land_use_permit/edit/{pk}").status_code == 200
    resp = client.post(f"/permits/land_use_permit/edit/{pk}",
                       data={**SAMPLES["land_use_permit"], "project_name": "测试用地项目（二期）",
                             "total_area": "12000"})
    assert resp.status_code == 302
    [changed] = records_of(app, "permit.update", obj_id=pk)
    assert changed.actor == "clerk_zy"
    assert json.loads(changed.before) == {"project_name": "测试用地项目", "total_area": "12345.67"}
    assert json.loads(changed.after) == {"project_name": "测试用地项目（二期）", "total_area": "12000.00"}
    # the permit's page shows the history with the declared labels
    page = client.get(f"/permits/land_use_permit/show/{pk}").get_data(as_text=True)
    assert 'id="audit-timeline"' in page
    assert "项目名称" in page and "总用地面积" in page and "测试用地项目（二期）" in page
    assert 'data-action="permit.update"' in page and "clerk_zy" in page


def test_create_and_change_via_the_api_are_recorded(app):
    client = app.test_client()
    headers = api_token(client)
    resp = client.post("/api/v1/permits/site_selection/", json={**SAMPLES["site_selection"], "bureau_code": "41018101"},
                       headers=headers)
    assert resp.status_code == 201, resp.json
    pk = str(resp.json["id"])
    [created] = records_of(app, "permit.create", obj_id=pk)
    assert created.actor == "admin" and created.reason == "api" and created.obj_bureau == "41018101"
    assert json.loads(created.after)["holder"] == SAMPLES["site_selection"]["holder"]
    resp = client.put(f"/api/v1/permits/site_selection/{pk}", json={"location": "凌霜街与飞航路西北角"},
                      headers=headers)
    assert resp.status_code == 200, resp.json
    [changed] = records_of(app, "permit.update", obj_id=pk)
    assert changed.actor == "admin" and changed.reason == "api"
    assert json.loads(changed.before) == {"location": "凌霜街与飞航路东北角"}
    assert json.loads(changed.after) == {"location": "凌霜街与飞航路西北角"}


def test_type_switch_is_recorded(app):
    client = app.test_client()
    login(client)
    assert client.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "0"}).status_code == 302
    assert client.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "1"}).status_code == 302
    [off] = records_of(app, "type.disable")
    [on] = records_of(app, "type.enable")
    assert off.actor == on.actor == "admin" and off.obj_id == on.obj_id == "rural_permit"
    assert json.loads(off.before) == {"enabled": True} and json.loads(off.after) == {"enabled": False}
    assert json.loads(on.after) == {"enabled": True}
    assert on.seq > off.seq


def test_audit_list_filters_and_export(app):
    a = issued_permit(app, bureau="41010201", serial=1)
    b = issued_permit(app, bureau="41018101", serial=2)
    client = app.test_client()
    login(client)
    client.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "0"})
    page = client.get("/audit/").get_data(as_text=True)
    assert "审计日志" in page and "停用业务类型" in page and "新建" in page
    page = client.get("/audit/?action=type.disable").get_data(as_text=True)
    assert "停用业务类型" in page and "新建" not in page.split("id=\"audit-list\"")[1]
    assert "共 1 条记录" in page
    page = client.get(f"/audit/?obj_type=land_use_permit&obj_id={b}").get_data(as_text=True)
    assert "共 1 条记录" in page and "41018101" in page
    assert "共 0 条记录" in client.get("/audit/?actor=nobody").get_data(as_text=True)
    assert "共 0 条记录" in client.get("/audit/?date_to=2020-01-01").get_data(as_text=True)
    assert "不是有效日期" in client.get("/audit/?date_from=2026-02-30").get_data(as_text=True)
    # export what the filter shows
    resp = client.get("/audit/export?obj_type=land_use_permit")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("序号", "时间（北京时间）", "操作者")
    assert sorted(r[7] for r in rows[1:]) == sorted([f"建设用地规划许可证 #{a}", f"建设用地规划许可证 #{b}"])
    [export] = records_of(app, "audit.export")
    assert export.actor == "admin" and json.loads(export.after)["rows"] == 2
    # one record's page
    seq = export.seq
    detail = client.get(f"/audit/{seq}").get_data(as_text=True)
    assert export.hash in detail and "导出审计记录" in detail


def test_no_page_edits_or_deletes_records(app):
    client = app.test_client()
    login(client)
    for method, url in (("get", "/audit/add"), ("get", "/audit/edit/1"), ("post", "/audit/delete/1"),
                        ("post", "/audit/1"), ("get", "/api/v1/audit/")):
        assert getattr(client, method)(url).status_code in (404, 405), url


def test_scope_of_the_audit_list(app):
    mine = issued_permit(app, bureau="41010201", serial=1)
    theirs = issued_permit(app, bureau="41018101", serial=2)
    luoyang = issued_permit(app, bureau="41030001", serial=3)
    make_user(app, "city_zz", "41010001", ROLE_CITY)
    make_user(app, "insp_gy", "41018101", ROLE_INSPECTOR)
    city = app.test_client()
    login(city, "city_zz", PASSWORD)
    page = city.get("/audit/?obj_type=land_use_permit").get_data(as_text=True)
    assert f"建设用地规划许可证 #{mine}" in page
    assert f"建设用地规划许可证 #{luoyang}" not in page and f"建设用地规划许可证 #{theirs}" not in page
    with app.app_context():
        from sqlalchemy import select
        from core.audit import AuditRecord
        from core.extensions import db
        seq = db.session.execute(select(AuditRecord.seq).where(AuditRecord.obj_id == str(luoyang))).scalar()
    assert city.get(f"/audit/{seq}").status_code == 404
    # an inspector sees the own bureau's records and those of permits assigned to them
    insp = app.test_client()
    login(insp, "insp_gy", PASSWORD)
    page = insp.get("/audit/?obj_type=land_use_permit").get_data(as_text=True)
    assert f"建设用地规划许可证 #{theirs}" in page and f"建设用地规划许可证 #{mine}" not in page
    from core import audit, spotchecks
    make_user(app, "insp_prov", None, ROLE_INSPECTOR)
    with app.app_context():
        with audit.acting_as("test"):
            values, _e = spotchecks.clean_plan({"name": "p", "issued_from": "2026-01-01", "issued_to": "2026-12-31",
                                                 "regions": ["郑州"], "ratio_percent": "100", "per_object": "2"})
            spotchecks.run_draw(spotchecks.create_plan(values), seed="s")
    page = insp.get("/audit/?obj_type=land_use_permit").get_data(as_text=True)
    assert f"建设用地规划许可证 #{mine}" in page
    # a clerk has no audit list, only the own permits' history
    make_user(app, "clerk_gy", "41018101", ROLE_CLERK)
    clerk = app.test_client()
    login(clerk, "clerk_gy", PASSWORD)
    resp = clerk.get("/audit/")
    assert resp.status_code == 302 or "共" not in resp.get_data(as_text=True)
    assert 'id="audit-timeline"' in clerk.get(f"/permits/land_use_permit/show/{theirs}").get_data(as_text=True)
    assert clerk.get(f"/permits/land_use_permit/show/{mine}").status_code in (302, 404)
