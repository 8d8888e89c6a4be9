"""撤销: by province admin or the city's reviewer, audited, public list, verification page."""
from __future__ import annotations

import json

import pytest

from audit_support import PASSWORD, issued_permit, make_user, records_of
from conftest import api_token, login
from core.scope import ROLE_CITY, ROLE_CLERK


def _permit(app, pk):
    from core.extensions import db
    from core.models import Permit
    with app.app_context():
        p = db.session.get(Permit, pk)
        db.session.expunge(p)
        return p


def test_admin_revokes_on_the_permit_page(app):
    pk = issued_permit(app, code="rural_permit", holder="张三")
    client = app.test_client()
    login(client)
    page = client.get(f"/permits/rural_permit/show/{pk}").get_data(as_text=True)
    assert 'id="revoke-form"' in page
    resp = client.post(f"/revocation/rural_permit/{pk}",
                       data={"reason": "以欺骗手段取得，申请人身份证410102199001011234", "decision_no": "豫自然资撤〔2026〕1号"},
                       follow_redirects=True)
    assert resp.status_code == 200
    p = _permit(app, pk)
    assert p.status == "revoked" and p.revoke_doc == "豫自然资撤〔2026〕1号"
    assert p.revoked_on is not None and p.revoke_reason.startswith("以欺骗手段取得")
    html = resp.get_data(as_text=True)
    assert "已撤销" in html and 'id="revoke-form"' not in html
    [rec] = records_of(app, "permit.revoke", obj_id=str(pk))
    assert rec.actor == "admin" and rec.actor_kind == "user" and rec.obj_type == "rural_permit"
    assert json.loads(rec.before) == {"status": "issued"}
    after = json.loads(rec.after)
    assert after["status"] == "revoked" and after["revoke_doc"] == "豫自然资撤〔2026〕1号"
    assert after["revoked_on"] == p.revoked_on.isoformat()
    # the permit's history shows it
    page = client.get(f"/permits/rural_permit/show/{pk}").get_data(as_text=True)
    assert 'data-action="permit.revoke"' in page
    # public list, without login: number, type, bureau, date, reason -- never personal data
    anon = app.test_client()
    public = anon.get("/public/revoked")
    assert public.status_code == 200
    text = public.get_data(as_text=True)
    assert p.number in text and "乡村建设规划许可证" in text and "中原" in text
    assert p.revoked_on.isoformat() in text and "以欺骗手段取得" in text
    assert "410102199001011234" not in text and "410***********1234" in text
    assert "张三" not in text


def test_reason_and_decision_are_required(app):
    pk = issued_permit(app)
    client = app.test_client()
    headers = api_token(client)
    resp = client.post(f"/api/v1/permits/land_use_permit/{pk}/revoke", json={"reason": " "}, headers=headers)
    assert resp.status_code == 422
    assert set(resp.json["message"]) == {"reason", "decision_no"}
    assert _permit(app, pk).status == "issued"
    login(client)
    resp = client.post(f"/revocation/land_use_permit/{pk}", data={"reason": "违法", "decision_no": ""},
                       follow_redirects=True)
    assert "撤销决定文号" in resp.get_data(as_text=True)
    assert _permit(app, pk).status == "issued"
    assert records_of(app, "permit.revoke") == []


def test_city_reviewer_revokes_own_city_only(app):
    zz = issued_permit(app, bureau="41010201", serial=1)          # 郑州
    other = issued_permit(app, bureau="41030201" if _has_bureau(app, "41030201") else _other_city_bureau(app),
                          serial=2)
    make_user(app, "zz_city", "41010001" if _has_bureau(app, "41010001") else "41010201", ROLE_CITY)
    client = app.test_client()
    headers = api_token(client, "zz_city", PASSWORD)
    body = {"reason": "规划条件已调整", "decision_no": "郑自然资撤〔2026〕2号"}
    assert client.post(f"/api/v1/permits/land_use_permit/{other}/revoke", json=body, headers=headers).status_code == 404
    assert _permit(app, other).status == "issued"
    [refused] = records_of(app, "permit.revoke", result="refused")     # the attempt is on record
    assert refused.actor == "zz_city" and refused.obj_id == str(other)
    resp = client.post(f"/api/v1/permits/land_use_permit/{zz}/revoke", json=body, headers=headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["result"]["status"] == "revoked"
    [rec] = records_of(app, "permit.revoke", result="success")
    assert rec.actor == "zz_city" and rec.reason == "规划条件已调整"
    # revoked once is revoked: a second try is refused, nothing recorded
    assert client.post(f"/api/v1/permits/land_use_permit/{zz}/revoke", json=body, headers=headers).status_code == 409
    assert len(records_of(app, "permit.revoke", result="success")) == 1


def test_clerk_may_not_revoke(app):
    pk = issued_permit(app)
    make_user(app, "clerk1", "41010201", ROLE_CLERK)
    client = app.test_client()
    headers = api_token(client, "clerk1", PASSWORD)
    resp = client.post(f"/api/v1/permits/land_use_permit/{pk}/revoke",
                       json={"reason": "x", "decision_no": "y"}, headers=headers)
    assert resp.status_code in (401, 403)
    login(client, "clerk1", PASSWORD)
    assert 'id="revoke-form"' not in client.get(f"/permits/land_use_permit/show/{pk}").get_data(as_text=True)
    assert _permit(app, pk).status == "issued"


def test_draft_cannot_be_revoked(app):
    from core import audit, records
    from core.extensions import db
    from conftest import SAMPLES
    with app.app_context():
        ptype = app.extensions["permits"].registry["land_use_permit"]
        values, _ = ptype.clean(SAMPLES["land_use_permit"])
        with audit.acting_as("test"):
            item = records.create(ptype, app.extensions["permits"].models["land_use_permit"], values, "41010201")
            db.session.commit()
        pk = item.id
    client = app.test_client()
    resp = client.post(f"/api/v1/permits/land_use_permit/{pk}/revoke",
                       json={"reason": "x", "decision_no": "y"}, headers=api_token(client))
    assert resp.status_code == 409
    assert "status" in resp.json["message"]


def test_revocation_shows_on_the_next_verification(app):
    numbering = pytest.importorskip("core.numbering")
    from core import audit, records
    from core.extensions import db
    from core.models import Permit
    from conftest import SAMPLES
    with app.app_context():
        ptype = app.extensions["permits"].registry["construction_permit"]
        values, errors = ptype.clean(SAMPLES["construction_permit"])
        assert not errors
        with audit.acting_as("test"):
            item = records.create(ptype, app.extensions["permits"].models["construction_permit"], values, "41010201")
            db.session.commit()
            issued = numbering.issue_permit(item)
        pk, payload = item.id, issued.permit.payload
    client = app.test_client()
    before = client.get(f"/v/{payload}").get_data(as_text=True)
    assert "已撤销" not in before
    resp = client.post(f"/api/v1/permits/construction_permit/{pk}/revoke",
                       json={"reason": "建设单位申请注销", "decision_no": "郑自然资撤〔2026〕9号"},
                       headers=api_token(client))
    assert resp.status_code == 200
    page = app.test_client().get(f"/v/{payload}").get_data(as_text=True)
    assert "已撤销" in page
    with app.app_context():
        revoked_on = db.session.get(Permit, pk).revoked_on
    assert revoked_on.isoformat() in page or f"{revoked_on.year}年{revoked_on.month}月{revoked_on.day}日" in page
    assert "建设单位申请注销" in page


def _has_bureau(app, code):
    from core.extensions import db
    from core.models import Bureau
    with app.app_context():
        return db.session.get(Bureau, code) is not None


def _other_city_bureau(app):
    from sqlalchemy import select
    from core.extensions import db
    from core.models import Bureau
    with app.app_context():
        city = db.session.get(Bureau, "41010201").city
        return db.session.execute(select(Bureau.code).where(Bureau.city != city)).scalars().first()


def test_forms_and_api_work_with_csrf_protection(make_app):
    import re
    app = make_app(WTF_CSRF_ENABLED=True)
    pk = issued_permit(app)
    client = app.test_client()
    login(client)
    page = client.get(f"/permits/land_use_permit/show/{pk}").get_data(as_text=True)
    form = page[page.index('id="revoke-form"'):]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    body = {"reason": "违法取得", "decision_no": "豫自然资撤〔2026〕3号"}
    assert client.post(f"/revocation/land_use_permit/{pk}", data=body).status_code == 400   # no token
    assert _permit(app, pk).status == "issued"
    assert client.post(f"/revocation/land_use_permit/{pk}", data={**body, "csrf_token": token}).status_code == 302
    assert _permit(app, pk).status == "revoked"
    other = issued_permit(app, serial=2)
    api = app.test_client()
    resp = api.post(f"/api/v1/permits/land_use_permit/{other}/revoke", json=body, headers=api_token(api))
    assert resp.status_code == 200, resp.get_data(as_text=True)
