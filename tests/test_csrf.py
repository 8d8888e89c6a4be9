"""CSRF: every page form needs its token, the REST API does not (it takes tokens instead)."""
from __future__ import annotations

import re

from conftest import ADMIN_PASSWORD, SAMPLES, api_token


def _login_with_token(client):
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    return token


def test_plain_form_without_token_is_refused_with_a_chinese_message(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = _login_with_token(client)
    refused = client.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "0"})
    assert refused.status_code == 400
    assert "表单已过期" in refused.get_data(as_text=True)
    assert client.get("/permits/rural_permit/add").status_code == 200          # still on
    ok = client.post("/admin/permit-types/rural_permit/toggle", data={"enabled": "0", "csrf_token": token})
    assert ok.status_code == 302
    assert client.get("/permits/rural_permit/add").status_code == 403


def test_api_needs_no_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    resp = client.post("/api/v1/permits/rural_permit/", json=dict(SAMPLES["rural_permit"], bureau_code="41010201"),
                       headers=api_token(client))
    assert resp.status_code == 201
