"""Bureau accounts: first login, password rules on every path, lockout, the 7-day deadline, audit."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core import accounts
from core.audit import AuditRecord
from core.extensions import db
from core.models import PermitUser, utcnow

from conftest import ADMIN_PASSWORD, api_token, login

CLERK = "41010201"          # 中原分局
GOOD = "Zhongyuan2026"


def _user(app, name=CLERK):
    with app.app_context():
        user = db.session.scalar(select(PermitUser).where(PermitUser.username == name))
        db.session.expunge(user)
        return user


def _audit(app, action, obj_id=CLERK):
    with app.app_context():
        return db.session.scalars(select(AuditRecord).where(AuditRecord.action == action,
                                                            AuditRecord.obj_id == obj_id)
                                  .order_by(AuditRecord.seq)).all()


def _change(client, password, confirm=None):
    return client.post("/resetmypassword/form",
                       data={"password": password, "conf_password": confirm or password}, follow_redirects=True)


def _set(app, name=CLERK, **values):
    with app.app_context():
        user = db.session.scalar(select(PermitUser).where(PermitUser.username == name))
        for k, v in values.items():
            setattr(user, k, v)
        db.session.commit()


def test_password_rules():
    from flask import Flask
    from flask_babel import Babel
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        assert accounts.password_problems("Zhongyuan2026", CLERK) == []
        assert accounts.password_problems(CLERK, CLERK) == ["The password must contain both letters and digits",
                                                            "The password must not contain the user name"]
        assert accounts.password_problems("Ab1", "x") == ["The password must have at least 8 characters"]
        assert accounts.password_problems("abcdefghij", "x") == ["The password must contain both letters and digits"]
        assert accounts.password_problems("x41010201y", CLERK) == ["The password must not contain the user name"]
        assert accounts.password_problems("Password123", "x") == \
            ["This password is one of the most common ones; choose another"]
        assert accounts.password_problems("1qaz2WSX", "x") != []


def test_first_login_holds_the_user_on_the_change_page(app):
    client = app.test_client()
    page = login(client, CLERK, CLERK)
    assert page.request.path == "/resetmypassword/form"
    text = page.get_data(as_text=True)
    assert "当前密码为初始（临时）密码，请先设置新密码再继续" in text and "修改密码" in text
    for path in ("/", "/permits/land_use_permit/list/", "/users/list/", "/admin/permit-types/"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/resetmypassword/form"), path
    # the first password cannot be kept, nor any password breaking the rules
    for bad, message in ((CLERK, "密码不能包含用户名"), ("abc", "密码至少 8 个字符"),
                         ("zhongyuanju", "密码须同时包含字母和数字"), ("password123", "最常见的密码")):
        text = _change(client, bad).get_data(as_text=True)
        assert message in text, bad
        assert _user(app).must_change_password
    assert "两次输入的密码不一致" in _change(client, GOOD, GOOD + "x").get_data(as_text=True)
    done = _change(client, GOOD)
    assert "密码已修改" in done.get_data(as_text=True)
    user = _user(app)
    assert not user.must_change_password and user.password_changed_on is not None
    assert client.get("/permits/land_use_permit/list/").status_code == 200
    changes = _audit(app, "auth.password_change")
    assert [(a.actor, a.actor_kind, a.result) for a in changes] == [(CLERK, "user", "success")]
    # an API token is refused while the first password is unchanged, given afterwards
    other = app.test_client()
    resp = other.post("/api/v1/security/login", json={"username": "41010301", "password": "41010301",
                                                      "provider": "db"})
    assert resp.status_code == 401
    assert api_token(other, CLERK, GOOD)


def test_login_and_logout_are_audited(app):
    client = app.test_client()
    login(client, CLERK, CLERK)
    _change(client, GOOD)
    client.get("/logout/")
    logins = _audit(app, "auth.login")
    assert [(a.actor, a.actor_kind, a.actor_bureau) for a in logins] == [(CLERK, "user", CLERK)]
    logouts = _audit(app, "auth.logout")
    assert [(a.actor, a.actor_kind) for a in logouts] == [(CLERK, "user")]


def test_failed_logins_lock_the_account(any_app):
    app = any_app
    client = app.test_client()
    for i in range(4):
        page = login(client, CLERK, "wrong-password")
        assert "锁定" not in page.get_data(as_text=True)
    page = login(client, CLERK, "wrong-password")
    assert "登录失败次数过多，账户已锁定 15 分钟" in page.get_data(as_text=True)
    # the right password is refused while locked
    page = login(client, CLERK, CLERK)
    assert "账户已锁定，请 15 分钟后再试" in page.get_data(as_text=True)
    assert client.get("/resetmypassword/form").status_code == 302          # not logged in
    failed = _audit(app, "auth.login_failed")
    assert len(failed) == 6
    assert {(a.actor, a.result) for a in failed} == {(CLERK, "refused")}
    locks = _audit(app, "account.lock")
    assert [(a.actor, a.result) for a in locks] == [(CLERK, "success")]
    assert _user(app).locked_until > utcnow() + dt.timedelta(minutes=14)
    # when the lock has run out the right password works again
    _set(app, locked_until=utcnow() - dt.timedelta(seconds=1))
    assert login(client, CLERK, CLERK).request.path == "/resetmypassword/form"
    # an unknown user name is audited under the name tried
    login(app.test_client(), "nobody", "whatever1")
    assert [(a.actor, a.actor_kind, a.result) for a in _audit(app, "auth.login_failed", "nobody")] == \
        [("nobody", "anonymous", "refused")]


def test_lock_minutes_and_failures_are_configurable(make_app):
    app = make_app(PERMITS_MAX_FAILED_LOGINS=2, PERMITS_LOCK_MINUTES=3)
    client = app.test_client()
    login(client, CLERK, "bad-one-1")
    assert "账户已锁定 3 分钟" in login(client, CLERK, "bad-one-2").get_data(as_text=True)


def _past_deadline(make_app, request=None):
    go_live = accounts_today() - dt.timedelta(days=8)
    if request is not None and request.param == "postgresql":
        from conftest import _reset_pg
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
        return make_app(PERMITS_GO_LIVE=go_live, SQLALCHEMY_DATABASE_URI=url)
    return make_app(PERMITS_GO_LIVE=go_live)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request):
    return request


def accounts_today():
    import zoneinfo
    return dt.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date()


def test_enforce_disables_unchanged_first_passwords(make_app, database):
    app = _past_deadline(make_app, database)
    # the seed was loaded "today", after go-live: set the first passwords' date back to before go-live
    with app.app_context():
        for user in db.session.scalars(select(PermitUser).where(PermitUser.must_change_password.is_(True))):
            user.password_changed_on = utcnow() - dt.timedelta(days=30)
        db.session.commit()
    client = app.test_client()
    _set(app, "41010301", must_change_password=False)       # 二七 changed its password in time
    result = app.test_cli_runner().invoke(accounts.accounts_cli, ["enforce"])
    assert result.exit_code == 0, result.output
    assert "已停用 158 个逾期未修改初始密码的账户" in result.output and CLERK in result.output
    assert not _user(app).active and _user(app, "41010301").active and _user(app, "admin").active
    disabled = _audit(app, "account.disable")
    assert [(a.actor, a.actor_kind) for a in disabled] == [("accounts-enforce", "job")]
    page = login(client, CLERK, CLERK)
    assert "上线后 7 天内未修改初始密码，账户已停用" in page.get_data(as_text=True)
    # running it again disables nothing more
    again = app.test_cli_runner().invoke(accounts.accounts_cli, ["enforce"])
    assert "已停用 0 个" in again.output
    # re-enabled by the admin: a new provisional password that must be changed at the next login
    result = app.test_cli_runner().invoke(accounts.accounts_cli, ["enable", CLERK])
    assert result.exit_code == 0, result.output
    temp = result.output.strip().rsplit("：", 1)[-1]
    user = _user(app)
    assert user.active and user.must_change_password
    enabled = _audit(app, "account.enable")
    assert [(a.actor, a.actor_kind) for a in enabled] == [("permits-cli", "job")]
    assert login(client, CLERK, CLERK).request.path == "/login/"               # the old first password is gone
    assert login(client, CLERK, temp).request.path == "/resetmypassword/form"
    # a new 7-day window started at the re-enabling: enforce leaves it alone
    assert "已停用 0 个" in app.test_cli_runner().invoke(accounts.accounts_cli, ["enforce"]).output


def test_login_disables_past_the_deadline(make_app):
    app = _past_deadline(make_app)
    _set(app, password_changed_on=utcnow() - dt.timedelta(days=30))
    page = login(app.test_client(), CLERK, CLERK)
    assert "账户已停用" in page.get_data(as_text=True)
    assert not _user(app).active
    assert [(a.actor, a.actor_kind) for a in _audit(app, "account.disable")] == [("accounts-enforce", "job")]


def test_no_deadline_without_go_live(app):
    result = app.test_cli_runner().invoke(accounts.accounts_cli, ["enforce"])
    assert "未设置上线日期" in result.output
    assert _user(app).active


def _admin_client(app):
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    return client


def test_admin_reset_applies_the_rules_and_is_provisional(app):
    client = _admin_client(app)
    uid = _user(app).id
    text = client.post(f"/resetpassword/form?pk={uid}", data={"password": "abc41010201",
                                                              "conf_password": "abc41010201"},
                       follow_redirects=True).get_data(as_text=True)
    assert "密码不能包含用户名" in text
    _set(app, must_change_password=False)
    client.post(f"/resetpassword/form?pk={uid}", data={"password": "Reset2026ab", "conf_password": "Reset2026ab"})
    user = _user(app)
    assert user.must_change_password
    resets = _audit(app, "auth.password_reset")
    assert [(a.actor, a.obj_id) for a in resets] == [("admin", CLERK)]
    assert login(app.test_client(), CLERK, "Reset2026ab").request.path == "/resetmypassword/form"


def test_admin_add_user_form_applies_the_rules(app):
    client = _admin_client(app)
    with app.app_context():
        role = app.appbuilder.sm.find_role("市级审核").id
    form = {"first_name": "郑州", "last_name": "审核", "username": "zz-review", "bureau_code": "41010001",
            "active": "y", "email": "zz@example.invalid", "roles": str(role)}
    text = client.post("/users/add", data=dict(form, password="zz-review1", conf_password="zz-review1"),
                       follow_redirects=True).get_data(as_text=True)
    assert "密码不能包含用户名" in text
    with app.app_context():
        assert app.appbuilder.sm.find_user(username="zz-review") is None
    client.post("/users/add", data=dict(form, password="Review2026x", conf_password="Review2026x"))
    user = _user(app, "zz-review")
    assert user.bureau_code == "41010001" and user.must_change_password
    assert [a.actor for a in _audit(app, "account.create", "zz-review")] == ["admin"]


def test_admin_reenables_in_the_user_form(app):
    _set(app, active=False, must_change_password=False)
    client = _admin_client(app)
    uid = _user(app).id
    with app.app_context():
        role = app.appbuilder.sm.find_role("县级经办").id
    resp = client.post(f"/users/edit/{uid}", data={"first_name": "中原分局", "last_name": CLERK, "username": CLERK,
                                                  "bureau_code": CLERK, "active": "y",
                                                  "email": f"{CLERK}@bureau.invalid", "roles": str(role)})
    assert resp.status_code == 302
    user = _user(app)
    assert user.active and user.must_change_password
    assert [a.actor for a in _audit(app, "account.enable")] == ["admin"]


def test_user_rest_api_applies_the_rules(app):
    client = app.test_client()
    headers = api_token(client)
    with app.app_context():
        role = app.appbuilder.sm.find_role("县级经办").id
    body = {"username": "api-user", "first_name": "a", "last_name": "b", "email": "a@example.invalid",
            "roles": [role]}
    resp = client.post("/api/v1/security/users/", headers=headers, json=dict(body, password="12345678"))
    assert resp.status_code == 422
    assert resp.json["message"]["password"] == ["密码须同时包含字母和数字", "该密码属于最常见的密码，请另选一个"]
    resp = client.post("/api/v1/security/users/", headers=headers, json=dict(body, password="Apiuser2026"))
    assert resp.status_code == 201, resp.json
    uid = resp.json["id"]
    assert _user(app, "api-user").must_change_password
    resp = client.put(f"/api/v1/security/users/{uid}", headers=headers, json={"password": "api-user-9"})
    assert resp.status_code == 422 and resp.json["message"]["password"] == ["密码不能包含用户名"]
    resp = client.put(f"/api/v1/security/users/{uid}", headers=headers, json={"password": "Newpass2026x"})
    assert resp.status_code == 200 and "Newpass2026x" not in resp.get_data(as_text=True)
    # the user API answers tokens only: a logged-in browser session gets 401
    browser = _admin_client(app)
    assert browser.get("/api/v1/security/users/").status_code == 401
    # and a clerk's token cannot list users
    clerk = app.test_client()
    login(clerk, CLERK, CLERK)
    _change(clerk, GOOD)
    assert clerk.get("/api/v1/security/users/", headers=api_token(clerk, CLERK, GOOD)).status_code in (401, 403)


def test_security_api_is_on_and_its_schemas_build(app):
    client = app.test_client()
    headers = api_token(client)
    for path in ("/api/v1/security/roles/", "/api/v1/security/permissions-resources/",
                 "/api/v1/security/users/"):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200 and resp.json["count"] > 0, path
    with app.app_context():
        sm = app.appbuilder.sm
        perm = sm.find_permission("can_list").id
        view = sm.find_view_menu("UserDBModelView").id
    # the permission/resource pair API loads the ids FAB 5.3 names as foreign keys
    resp = client.get(f"/api/v1/security/permissions-resources/_info", headers=headers)
    assert resp.status_code == 200
    assert {f["name"] for f in resp.json["add_columns"]} == {"permission", "view_menu"}
    assert perm and view
