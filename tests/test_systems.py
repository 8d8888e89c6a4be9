"""External systems: tokens, the push API, approval details, issuing, OpenAPI."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from conftest import api_token, login
from filing_support import CLERK_PASSWORD, audit_rows, chain_ok, make_user

MESSAGE = {
    "record_id": "GCJS-2026-0001", "type": "land_use_permit", "bureau_code": "41010201",
    "project_code": "2026-410102-47-03-012345", "project_name": "护航路小学改扩建项目",
    "holder": "郑州市中原区教育局", "location": "中原区护航路与飞航路东北角", "accepted_on": "2026-03-08",
}


def register(app, name="工程建设项目审批管理系统", bureaus=("41010201",)):
    with app.app_context():
        from core.systems import add_system
        _system, token = add_system(name, list(bureaus))
    return {"Authorization": "Bearer " + token}


def count(app, model_name):
    with app.app_context():
        from core.extensions import db
        from core import models, systems
        model = getattr(systems, model_name, None) or getattr(models, model_name)
        return db.session.scalar(select(func.count()).select_from(model))


def push(client, headers, **changes):
    return client.post("/api/v1/projects/push", json=dict(MESSAGE, **changes), headers=headers)


def test_push_creates_project_and_draft_found_by_the_clerk(app, client):
    headers = register(app)
    resp = push(client, headers)
    assert resp.status_code == 201, resp.json
    assert resp.json["result"] == "created" and resp.json["record_id"] == "GCJS-2026-0001"
    pk = resp.json["id"]
    with app.app_context():
        from core.extensions import db
        from core.models import Permit
        from core.systems import Project, PushedRecord
        permit = db.session.get(Permit, pk)
        assert (permit.type_code, permit.status, permit.bureau_code) == ("land_use_permit", "draft", "41010201")
        assert permit.holder == "郑州市中原区教育局" and permit.accepted_on.isoformat() == "2026-03-08"
        project = db.session.get(Project, "2026-410102-47-03-012345")
        assert project.name == "护航路小学改扩建项目"
        assert db.session.scalar(select(PushedRecord.permit_id)) == pk
    # the write is attributed to the system and audited
    pushes = audit_rows(app, "api.push")
    assert [(a, k, o, b) for a, k, o, b, _after, _r in pushes] == [("工程建设项目审批管理系统", "system", str(pk), "41010201")]
    creates = audit_rows(app, "permit.create")
    assert creates[-1][:2] == ("工程建设项目审批管理系统", "system")
    assert chain_ok(app)[1] is None
    # the clerk of that bureau finds the draft in the list
    make_user(app, "zy_clerk", "41010201")
    login(client, "zy_clerk", CLERK_PASSWORD)
    page = client.get("/permits/land_use_permit/list/")
    assert page.status_code == 200
    assert "护航路小学改扩建项目" in page.get_data(as_text=True)


def test_same_message_twice_changes_nothing(app, client):
    headers = register(app)
    first = push(client, headers)
    audits = len(audit_rows(app, "api.push"))
    second = push(client, headers)
    assert second.status_code == 200
    assert second.json == {"id": first.json["id"], "record_id": "GCJS-2026-0001", "result": "unchanged", "changed": {}}
    assert count(app, "Permit") == 1
    assert len(audit_rows(app, "api.push")) == audits


def test_changed_message_updates_the_draft_and_says_what_changed(app, client):
    headers = register(app)
    pk = push(client, headers).json["id"]
    resp = push(client, headers, holder="郑州市中原区教育体育局", accepted_on="2026年3月9日")
    assert resp.status_code == 200
    assert resp.json["id"] == pk and resp.json["result"] == "updated"
    assert resp.json["changed"] == {
        "holder": {"before": "郑州市中原区教育局", "after": "郑州市中原区教育体育局"},
        "accepted_on": {"before": "2026年3月8日", "after": "2026年3月9日"}}
    assert count(app, "Permit") == 1
    with app.app_context():
        from core.extensions import db
        from core.models import Permit
        assert db.session.get(Permit, pk).holder == "郑州市中原区教育体育局"
    updates = audit_rows(app, "permit.update")
    assert updates[-1][0] == "工程建设项目审批管理系统" and updates[-1][4]


def test_no_token_and_bad_token_are_401(app, client):
    register(app)
    resp = client.post("/api/v1/projects/push", json=MESSAGE)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert push(client, {"Authorization": "Bearer hnps_not-a-real-token"}).status_code == 401
    assert push(client, {"Authorization": "Basic YWRtaW46YWRtaW4="}).status_code == 401
    assert count(app, "Permit") == 0


def test_cli_add_prints_the_token_once_and_revoke_stops_it(app, client):
    from core.systems import systems_cli
    runner = app.test_cli_runner()
    out = runner.invoke(systems_cli, ["add", "中原区自建系统", "--bureau", "41010201"])
    assert out.exit_code == 0, out.output
    token = out.output.strip().splitlines()[-1]
    assert token.startswith("hnps_") and len(token) > 40
    with app.app_context():
        from core.extensions import db
        from core.systems import ExternalSystem, hash_token
        system = db.session.scalar(select(ExternalSystem))
        assert system.token_hash == hash_token(token) and token not in (system.token_hint + system.token_hash)
    headers = {"Authorization": "Bearer " + token}
    assert push(client, headers).status_code == 201
    out = runner.invoke(systems_cli, ["revoke", "中原区自建系统"])
    assert out.exit_code == 0, out.output
    resp = push(client, headers, record_id="GCJS-2026-0002")
    assert resp.status_code == 401
    assert count(app, "Permit") == 1
    listing = runner.invoke(systems_cli, ["list"])
    assert "已吊销" in listing.output and token not in listing.output
    bad = runner.invoke(systems_cli, ["add", "坏系统", "--bureau", "99999999"])
    assert bad.exit_code != 0 and "99999999" in bad.output


def test_the_systems_command_is_part_of_permits():
    from core.cli import main
    assert "systems" in main.commands


def test_foreign_bureau_is_403(app, client):
    headers = register(app)
    resp = push(client, headers, bureau_code="41018101")
    assert resp.status_code == 403
    assert resp.json["message"] == "本系统无权为审批主体 41018101 填报"
    assert count(app, "Permit") == 0 and count(app, "Project") == 0
    refused = audit_rows(app, "api.push")
    assert [(r[0], r[1], r[3]) for r in refused] == [("工程建设项目审批管理系统", "system", "41018101")]


def test_issued_record_is_409(app, client):
    headers = register(app)
    pk = push(client, headers).json["id"]
    with app.app_context():
        from core.extensions import db
        from core.models import Permit
        db.session.get(Permit, pk).status = "issued"
        db.session.commit()
    resp = push(client, headers, holder="另一家单位")
    assert resp.status_code == 409
    assert client.patch(f"/api/v1/projects/drafts/{pk}", json={"land_use": "教育用地"}, headers=headers).status_code == 409
    assert client.post(f"/api/v1/projects/drafts/{pk}/issue", headers=headers).status_code == 409
    # repeating the message that made it is still answered, without change
    assert push(client, headers).json["result"] == "unchanged"


def test_malformed_json_is_400(app, client):
    headers = register(app)
    resp = client.post("/api/v1/projects/push", data=b'{"record_id": "x",', headers=dict(
        headers, **{"Content-Type": "application/json"}))
    assert resp.status_code == 400 and "JSON" in resp.json["message"]
    assert client.post("/api/v1/projects/push", json=[MESSAGE], headers=headers).status_code == 400
    assert client.post("/api/v1/projects/push", data="record_id=1", headers=headers).status_code == 400


def test_wrong_types_name_the_field_in_chinese(app, client):
    headers = register(app)
    resp = push(client, headers, accepted_on=20260308, project_code=2026, record_id={"id": 1}, colour="red")
    assert resp.status_code == 422
    errors = resp.json["message"]
    assert set(errors) == {"accepted_on", "project_code", "record_id", "colour"}
    assert "受理日期" in errors["accepted_on"][0]
    assert "项目代码" in errors["project_code"][0]
    resp = push(client, headers, accepted_on="03/08/2026")
    assert resp.status_code == 422 and "受理日期" in resp.json["message"]["accepted_on"][0]
    resp = push(client, headers, project_name="")
    assert resp.status_code == 422 and "项目名称" in resp.json["message"]["project_name"][0]
    assert count(app, "Permit") == 0


def test_unknown_type_is_422(app, client):
    headers = register(app)
    resp = push(client, headers, type="hot_work")
    assert resp.status_code == 422
    assert "hot_work" in resp.json["message"]["type"][0] and "land_use_permit" in resp.json["message"]["type"][0]


def test_patch_validates_like_the_form(app, client):
    headers = register(app)
    pk = push(client, headers).json["id"]
    bad = client.patch(f"/api/v1/projects/drafts/{pk}", json={"total_area": "很大", "acquisition": "抢占",
                                                              "nonsense": 1}, headers=headers)
    assert bad.status_code == 422
    assert set(bad.json["message"]) == {"total_area", "acquisition", "nonsense"}
    assert "总用地面积" in bad.json["message"]["total_area"][0]
    assert "出让" in bad.json["message"]["acquisition"][0]
    good = client.patch(f"/api/v1/projects/drafts/{pk}", json={"total_area": "3亩", "acquisition": "划拨",
                                                               "land_use": "教育用地"}, headers=headers)
    assert good.status_code == 200, good.json
    assert good.json["changed"]["total_area"] == {"before": "", "after": "2000.00"}
    with app.app_context():
        from decimal import Decimal
        from core.extensions import db
        from core.models import Permit
        assert db.session.get(Permit, pk).total_area == Decimal("2000.00")


def test_patch_and_issue_outside_the_systems_bureaus_are_404(app, client):
    zhongyuan = register(app)
    gongyi = register(app, "巩义自建系统", ("41018101",))
    pk = push(client, zhongyuan).json["id"]
    assert client.patch(f"/api/v1/projects/drafts/{pk}", json={"land_use": "x"}, headers=gongyi).status_code == 404
    assert client.post(f"/api/v1/projects/drafts/{pk}/issue", headers=gongyi).status_code == 404


def test_issue_checks_required_attachments_then_numbers(app, client):
    pytest.importorskip("core.numbering")
    headers = register(app)
    pk = push(client, headers).json["id"]
    client.patch(f"/api/v1/projects/drafts/{pk}", json={"total_area": "1200", "acquisition": "出让",
                                                        "land_use": "教育用地"}, headers=headers)
    refused = client.post(f"/api/v1/projects/drafts/{pk}/issue", headers=headers)
    assert refused.status_code == 422
    assert "国有建设用地使用权出让合同或划拨决定书" in str(refused.json["message"])
    client.patch(f"/api/v1/projects/drafts/{pk}", json={"acquisition": "划拨"}, headers=headers)
    issued = client.post(f"/api/v1/projects/drafts/{pk}/issue", headers=headers)
    assert issued.status_code == 200, issued.json
    assert issued.json["status"] == "issued" and issued.json["number"].startswith("地字第410102")
    again = client.post(f"/api/v1/projects/drafts/{pk}/issue", headers=headers)
    assert again.status_code == 409


def test_admin_page_shows_the_token_once_and_revokes(app, client):
    login(client)
    page = client.post("/admin/systems/add", data={"name": "省政务服务网", "bureaus": "41010201 41018101"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "省政务服务网" in html
    import re
    token = re.search(r"(hnps_[A-Za-z0-9_\-]+)", html).group(1)
    again = client.get("/admin/systems/").get_data(as_text=True)
    assert token not in again and token[:10] in again
    assert push(client, {"Authorization": "Bearer " + token}, bureau_code="41018101").status_code == 201
    with app.app_context():
        from core.extensions import db
        from core.systems import ExternalSystem
        pk = db.session.scalar(select(ExternalSystem.id))
    client.post(f"/admin/systems/{pk}/revoke")
    assert push(client, {"Authorization": "Bearer " + token}, record_id="2").status_code == 401
    refused = client.post("/admin/systems/add", data={"name": "坏系统", "bureaus": "12345678"})
    assert "12345678" in refused.get_data(as_text=True)
    # a clerk cannot reach the page
    make_user(app, "clerk_x", "41010201")
    client.get("/logout/")
    login(client, "clerk_x", CLERK_PASSWORD)
    assert client.get("/admin/systems/").status_code in (302, 403)


def _resolve(doc, ref):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_openapi_document_describes_the_push_endpoints(app, client):
    import jsonschema
    from core.systems import _PUSH_SCHEMA
    doc = client.get("/api/v1/_openapi", headers=api_token(client)).json
    assert doc["openapi"].startswith("3.")
    for ref in set(_refs(doc)):          # every reference resolves
        assert ref.startswith("#/") and _resolve(doc, ref) is not None, ref
    push_op = doc["paths"]["/api/v1/projects/push"]["post"]
    patch_op = doc["paths"]["/api/v1/projects/drafts/{pk}"]["patch"]
    issue_op = doc["paths"]["/api/v1/projects/drafts/{pk}/issue"]["post"]
    assert doc["components"]["securitySchemes"]["push_token"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["push_token"]["description"]}
    for op in (push_op, patch_op, issue_op):
        assert op["security"] == [{"push_token": []}]
        assert {"401", "403", "404" if op is not push_op else "409"} <= set(map(str, op["responses"]))
        for resp in op["responses"].values():
            assert "example" in resp["content"]["application/json"]
    body = push_op["requestBody"]["content"]["application/json"]
    jsonschema.validate(body["example"], body["schema"])
    assert "land_use_permit" in body["schema"]["properties"]["type"]["enum"]
    for code in ("200", "201", "409", "422"):
        assert code in push_op["responses"]
    # every filing operation has responses and declares each {name} of its path
    import re
    ours = [p for p in doc["paths"] if p.startswith(("/api/v1/projects", "/api/v1/attachments"))
            or p.endswith(("/template.xlsx", "/import"))]
    assert len(ours) >= 6
    for path in ours:
        for method, op in doc["paths"][path].items():
            assert op.get("responses"), (path, method)
            names = set(re.findall(r"{(\w+)}", path))
            declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
            assert names <= declared, (path, method)
    assert _PUSH_SCHEMA["required"] == body["schema"]["required"]


def test_push_on_both_databases(any_app):
    client = any_app.test_client()
    headers = register(any_app)
    first = push(client, headers)
    assert first.status_code == 201
    assert push(client, headers).json == dict(first.json, result="unchanged")
    assert push(client, headers, location="中原区护航路1号").json["changed"] == {
        "location": {"before": "中原区护航路与飞航路东北角", "after": "中原区护航路1号"}}
    assert count(any_app, "PushedRecord") == 1
    assert chain_ok(any_app)[1] is None
