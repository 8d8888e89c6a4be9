"""Every REST endpoint authenticates by token only: a browser session cookie alone gets 401."""
from __future__ import annotations

from conftest import login


def test_session_cookie_alone_is_refused_on_every_api_get(app):
    client = app.test_client()
    login(client)
    public = ("/api/v1/verify/", "/api/v1/security/", "/api/v1/permit-types/", "/api/v1/_openapi",
              "/api/v1/menu/", "/api/v1/projects/")
    checked = []
    for rule in app.url_map.iter_rules():
        url = rule.rule
        if not url.startswith("/api/v1/") or url.startswith(public) or "GET" not in rule.methods:
            continue
        path = url
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "1").replace(f"<string:{arg}>", "1")
            path = path.replace(f"<path:{arg}>", "1")
        resp = client.get(path)
        checked.append(path)
        assert resp.status_code == 401, f"{path} answered {resp.status_code} to a session cookie"
    assert len(checked) >= 10


def test_api_errors_are_in_chinese(app):
    client = app.test_client()
    bad = client.post("/api/v1/security/login", json={"username": "admin", "password": "wrong", "provider": "db"})
    assert bad.status_code == 401 and "用户名或密码错误" in bad.json["message"]
    from conftest import api_token
    headers = api_token(client)
    missing = client.get("/api/v1/permits/rural_permit/999999", headers=headers)
    assert missing.status_code == 404 and missing.json["message"] == "未找到该页面或记录"
    no_token = client.get("/api/v1/permits/rural_permit/")
    assert no_token.status_code == 401 and "登录" in no_token.get_data(as_text=True)
