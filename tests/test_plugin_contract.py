"""One contract, checked for every registered permit type."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import inspect

from conftest import SAMPLES, api_token, login
from core.plugins import collect_permit_types, make_plugin_manager

TYPES = [t.code for t in collect_permit_types(make_plugin_manager())]
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_all_five_types_registered():
    assert set(TYPES) >= {"site_selection", "land_use_permit", "construction_permit", "rural_permit", "verification"}


@pytest.mark.parametrize("code", TYPES)
def test_declaration_is_complete(code):
    ptype = collect_permit_types(make_plugin_manager())[code]
    assert re.fullmatch(r"[A-Z]{2}", ptype.letters) and len(ptype.prefix_char) == 1
    assert CJK.search(ptype.name)
    for f in ptype.all_fields:
        assert CJK.search(f.label), f"{code}.{f.name} has no Chinese label"
    assert ptype.certificate_template
    assert code in SAMPLES, "add a valid sample for the contract tests"


@pytest.mark.parametrize("code", TYPES)
def test_table_has_a_column_per_field(any_app, code):
    state = any_app.extensions["permits"]
    ptype, model = state.registry[code], state.models[code]
    with any_app.app_context():
        from core.extensions import db
        columns = {c["name"] for c in inspect(db.engine).get_columns(model.__table__.name)}
        common = {c["name"] for c in inspect(db.engine).get_columns("permit")}
    assert {f.name for f in ptype.fields} <= columns
    assert {"project_name", "project_code", "holder", "location", "accepted_on", "status", "bureau_code",
            "number"} <= common


@pytest.mark.parametrize("code", TYPES)
def test_add_form_renders_in_chinese(app, code):
    client = app.test_client()
    login(client)
    html = client.get(f"/permits/{code}/add").get_data(as_text=True)
    ptype = app.extensions["permits"].registry[code]
    for f in ptype.all_fields:
        assert f.label in html
    assert ptype.name in html
    for english in (">Save<", ">Back<", "Add Permit", "List Permit"):
        assert english not in html


@pytest.mark.parametrize("code", TYPES)
def test_required_field_error_in_chinese_and_nothing_saved(app, code):
    client = app.test_client()
    login(client)
    ptype = app.extensions["permits"].registry[code]
    data = dict(SAMPLES[code], bureau="41010201")
    missing = next(f for f in ptype.all_fields if f.required and f.name != "project_name")
    data[missing.name] = ""
    resp = client.post(f"/permits/{code}/add", data=data, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert f"「{missing.label}」必须填写" in html
    model = app.extensions["permits"].models[code]
    with app.app_context():
        from core.extensions import db
        assert db.session.query(model).count() == 0


@pytest.mark.parametrize("code", TYPES)
def test_form_create_then_show(app, code):
    client = app.test_client()
    login(client)
    resp = client.post(f"/permits/{code}/add", data=dict(SAMPLES[code], bureau="41010201"), follow_redirects=True)
    assert resp.status_code == 200
    model = app.extensions["permits"].models[code]
    with app.app_context():
        from core.extensions import db
        item = db.session.query(model).one()
        assert item.bureau_code == "41010201" and item.status == "draft"
        assert item.project_name == SAMPLES[code]["project_name"]
        pk = item.id
    html = client.get(f"/permits/{code}/show/{pk}").get_data(as_text=True)
    assert SAMPLES[code]["holder"] in html and "草稿" in html


@pytest.mark.parametrize("code", TYPES)
def test_rest_create_and_read(any_app, code):
    client = any_app.test_client()
    headers = api_token(client)
    resp = client.post(f"/api/v1/permits/{code}/", json=dict(SAMPLES[code], bureau_code="41018101"),
                       headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    pk = resp.json["id"]
    got = client.get(f"/api/v1/permits/{code}/{pk}", headers=headers)
    assert got.status_code == 200
    result = got.json["result"]
    assert result["project_name"] == SAMPLES[code]["project_name"]
    assert result["bureau_code"] == "41018101" and result["status"] == "draft" and result["number"] is None


@pytest.mark.parametrize("code", TYPES)
def test_rest_bad_input_named_in_chinese(app, code):
    client = app.test_client()
    headers = api_token(client)
    ptype = app.extensions["permits"].registry[code]
    body = dict(SAMPLES[code], bureau_code="41018101", project_code="12345")
    number_field = next((f for f in ptype.fields if f.kind.name in ("decimal", "integer")), None)
    if number_field:
        body[number_field.name] = "很大"
    resp = client.post(f"/api/v1/permits/{code}/", json=body, headers=headers)
    assert resp.status_code == 422
    messages = resp.json["message"]
    assert "项目代码" in messages["project_code"][0]
    if number_field:
        assert f"「{number_field.label}」" in messages[number_field.name][0]
    model = app.extensions["permits"].models[code]
    with app.app_context():
        from core.extensions import db
        assert db.session.query(model).count() == 0


def test_draft_deleted_by_post_only(app):
    from numbering_support import new_draft
    client = app.test_client()
    login(client)
    pk = new_draft(app, "rural_permit")
    assert client.get(f"/permits/rural_permit/delete/{pk}").status_code == 405
    model = app.extensions["permits"].models["rural_permit"]
    with app.app_context():
        from core.extensions import db
        assert db.session.get(model, pk) is not None
    assert client.post(f"/permits/rural_permit/delete/{pk}").status_code == 302
    with app.app_context():
        from core.extensions import db
        assert db.session.get(model, pk) is None


def test_after_saving_the_clerk_sees_the_new_draft(app):
    client = app.test_client()
    login(client)
    resp = client.post("/permits/rural_permit/add", data=dict(SAMPLES["rural_permit"], bureau="41010201"))
    assert resp.status_code == 302 and "/permits/rural_permit/show/" in resp.headers["Location"]
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert SAMPLES["rural_permit"]["holder"] in html and ">None<" not in html


def test_issued_permit_does_not_open_in_the_edit_form(app):
    from numbering_support import new_draft
    pk = new_draft(app, "rural_permit")
    with app.test_request_context():
        from core import audit, numbering
        from core.extensions import db
        from core.models import Permit
        with audit.acting_as("test", "job"):
            numbering.issue_permit(db.session.get(Permit, pk))
    client = app.test_client()
    login(client)
    resp = client.get(f"/permits/rural_permit/edit/{pk}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/permits/rural_permit/show/{pk}")
    assert "只能修改草稿" in client.get(resp.headers["Location"]).get_data(as_text=True)
