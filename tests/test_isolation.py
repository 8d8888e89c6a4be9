"""Isolation between bureaus, walked over every route of the running app; CSRF, tokens, cookies, secrets.

The walk is generic over ``app.url_map``: a route another part of the
project adds later is walked too.  A clerk of bureau A (logged in, and with a
JWT for ``/api/``) asks every route, with every method it accepts, about the
records of bureau B:

* a route that names a record (an id in its URL) must answer 403 or 404;
* no response, on any route, may contain B's data or be a server error;
* afterwards B's records are exactly as they were.

Only the truly public routes are allowed to answer anything else, and they are
listed here explicitly.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core import audit, records
from core.extensions import db
from core.models import STATUS_ISSUED, Permit, PermitUser, utcnow

from conftest import SAMPLES, api_token, login

A, B = "41010201", "41018101"          # 中原分局, 巩义
A_PASSWORD = "Zhongyuan2026"
MARK = "乙局专有"                        # in every one of B's records

#: Routes anyone may use (no login), and the session's own routes: not walked for isolation.
PUBLIC = (
    re.compile(r"^/login/$"), re.compile(r"^/logout/$"), re.compile(r"^/lang/"),
    re.compile(r"^/static/"), re.compile(r"^/v/"), re.compile(r"^/api/v1/verify/"), re.compile(r"^/public/"),
    re.compile(r"^/api/v1/security/(login|refresh)$"),
)

FILL = {"string": "x", "default": "x", "path": "x", "any": "x"}


def _make_b_records(app):
    """Per type: a draft and an issued record of bureau B (and an audit record about B)."""
    out = {}
    with app.app_context():
        state = app.extensions["permits"]
        with audit.acting_as("test-setup", "job"):
            for ptype in state.registry:
                values, errors = ptype.clean(dict(SAMPLES[ptype.code]))
                assert not errors, errors
                values["project_name"] = f"{MARK}{ptype.code}项目"
                draft = records.create(ptype, state.models[ptype.code], values, B)
                issued = records.create(ptype, state.models[ptype.code], dict(values), B)
                issued.status = STATUS_ISSUED
                issued.number = f"{ptype.prefix_char}字第4101812026{ptype.letters}9{len(out):06d}号"
                issued.serial = 9000000 + len(out)
                issued.issued_on = utcnow().date()
                issued.issued_at = utcnow()
                db.session.commit()
                out[ptype.code] = (draft.id, issued.id)
        user_b = db.session.scalar(select(PermitUser).where(PermitUser.username == B))
        user_a = db.session.scalar(select(PermitUser).where(PermitUser.username == A))
        from werkzeug.security import generate_password_hash
        user_a.password = generate_password_hash(A_PASSWORD, method=app.config["FAB_PASSWORD_HASH_METHOD"])
        user_a.must_change_password = False
        db.session.commit()
        seq = audit.head().seq
        return out, user_b.id, seq


def _snapshot(app):
    with app.app_context():
        rows = db.session.execute(select(Permit.id, Permit.bureau_code, Permit.status, Permit.project_name,
                                         Permit.number, Permit.version)
                                  .where(Permit.bureau_code == B).order_by(Permit.id)).all()
        return [tuple(r) for r in rows]


def _urls(current_app, rule, type_records, user_b, seq):
    """Concrete URLs for ``rule`` aimed at B's records: [(url, names a record?)]."""
    args = [a for a in rule.arguments]
    codes = list(type_records)
    own_type = next((c for c in codes if f"/{c}/" in rule.rule), None)
    if "code" in args:
        wanted = [own_type] if own_type else codes
    else:
        wanted = [own_type or codes[0]]
    out = []
    for code in wanted:
        for rec in type_records[code]:
            values = {}
            names_record = False
            for name in args:
                conv = type(rule._converters[name]).__name__
                if name == "code":
                    values[name] = code
                elif name == "version":
                    values[name] = "v1"
                elif name in ("pk", "role_id") or conv in ("IntegerConverter", "NumberConverter"):
                    names_record = True
                    if name == "seq":
                        values[name] = seq
                    elif rule.rule.startswith(("/users/", "/api/v1/security/users/")):
                        values[name] = user_b
                    else:
                        values[name] = rec
                elif name == "name":
                    view = getattr(current_app.view_functions.get(rule.endpoint), "__self__", None)
                    values[name] = next(iter(getattr(view, "actions", None) or {"muldelete": 1}))
                elif name == "filename":
                    values[name] = "x.csv"
                else:
                    values[name] = "x"
            url = rule.rule
            for name, value in values.items():
                url = re.sub(r"<(?:[^:<>]+:)?%s>" % re.escape(name), str(value), url)
            out.append((url, names_record))
            if not names_record:
                return out
    return out


def _city_reviewer(app):
    """A 市级审核 user of 郑州 (its city's bureaus; 巩义 is administered directly by the province)."""
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.add_user("zz-review", "郑州", "审核", "zz-review@example.invalid", sm.find_role("市级审核"),
                           A_PASSWORD)
        user.bureau_code = "41010001"
        user.must_change_password = False
        db.session.commit()
    return "zz-review"


def _inspector(app):
    """A 抽查人员 with no spot check assigned: sees no bureau's records."""
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.add_user("inspector-1", "抽查", "人员", "inspector-1@example.invalid", sm.find_role("抽查人员"),
                           A_PASSWORD)
        user.must_change_password = False
        db.session.commit()
    return "inspector-1"


@pytest.mark.parametrize("actor", ["clerk", "city", "inspector"])
def test_every_route_refuses_another_bureaus_records(app, actor):
    type_records, user_b, seq = _make_b_records(app)
    name = {"clerk": lambda: A, "city": lambda: _city_reviewer(app), "inspector": lambda: _inspector(app)}[actor]()
    before = _snapshot(app)
    assert len(before) == 2 * len(type_records)
    client = app.test_client()
    assert login(client, name, A_PASSWORD).request.path == "/"
    token = api_token(app.test_client(), name, A_PASSWORD)
    walked, failures = 0, []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if any(p.search(rule.rule) for p in PUBLIC):
            continue
        for url, names_record in _urls(app, rule, type_records, user_b, seq):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                api = url.startswith("/api/")
                kwargs = {"headers": token} if api else {}
                if method in ("POST", "PUT", "PATCH"):
                    body = {"project_name": "篡改", "bureau_code": A, "status": "draft", "reason": "x",
                            "enabled": "1", "rowid": str(user_b)}
                    kwargs["json" if api else "data"] = body
                resp = client.open(url, method=method, **kwargs)
                walked += 1
                text = resp.get_data(as_text=True) if resp.mimetype.startswith(("text/", "application/json")) \
                    else ""
                if resp.status_code >= 500:
                    failures.append(f"{method} {url}: {resp.status_code}")
                elif MARK in text:
                    failures.append(f"{method} {url}: shows B's data ({resp.status_code})")
                elif names_record and resp.status_code not in ((401, 403, 404) if api else (403, 404, 405)):
                    failures.append(f"{method} {url}: {resp.status_code}, expected 403/404")
    assert walked > 300
    assert not failures, "\n".join(failures)
    assert _snapshot(app) == before
    # the lists answer (to those who may list), without B's records
    assert client.get("/permits/land_use_permit/list/").status_code == (403 if actor == "inspector" else 200)


def test_city_reviewer_sees_its_city_only(app):
    type_records, _user_b, _seq = _make_b_records(app)
    with app.app_context():
        state = app.extensions["permits"]
        ptype = state.registry["land_use_permit"]
        values, _errors = ptype.clean(dict(SAMPLES["land_use_permit"], project_name="中原分局的项目"))
        own = records.create(ptype, state.models["land_use_permit"], values, A)
        db.session.commit()
        own_id = own.id
    client = app.test_client()
    login(client, _city_reviewer(app), A_PASSWORD)
    listing = client.get("/permits/land_use_permit/list/").get_data(as_text=True)
    assert "中原分局的项目" in listing and MARK not in listing
    assert client.get(f"/permits/land_use_permit/show/{own_id}").status_code == 200
    assert client.get(f"/permits/land_use_permit/show/{type_records['land_use_permit'][0]}").status_code == 404
    # a reviewer reads, it does not write
    assert client.get(f"/permits/land_use_permit/edit/{own_id}").status_code == 403


def test_clerk_cannot_reach_admin_pages(app):
    _make_b_records(app)
    client = app.test_client()
    login(client, A, A_PASSWORD)
    for path in ("/users/list/", "/roles/list/", "/admin/permit-types/", "/permissions/list/",
                 "/users/add", "/resetpassword/form?pk=1"):
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("code", ["land_use_permit", "rural_permit"])
def test_create_naming_another_bureau_lands_in_own_bureau(any_app, code):
    app = any_app
    _make_b_records(app)
    client = app.test_client()
    login(client, A, A_PASSWORD)
    # the form offers the clerk's own bureau only: naming B is refused, and nothing lands in B
    page = client.post(f"/permits/{code}/add", data=dict(SAMPLES[code], bureau=B, project_name="表单乙局项目"))
    assert page.status_code == 200 and "该字段是必填字段" in page.get_data(as_text=True)
    form = client.get(f"/permits/{code}/add").get_data(as_text=True)
    assert f'value="{A}"' in form and f'value="{B}"' not in form
    resp = client.post(f"/permits/{code}/add", data=dict(SAMPLES[code], bureau=A, project_name="表单新建项目"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    # the API takes the bureau from the token's user, whatever the JSON says
    headers = api_token(app.test_client(), A, A_PASSWORD)
    resp = client.post(f"/api/v1/permits/{code}/", headers=headers,
                       json=dict(SAMPLES[code], bureau_code=B, project_name="接口新建项目"))
    assert resp.status_code == 201, resp.json
    assert resp.json["result"]["bureau_code"] == A
    with app.app_context():
        made = db.session.execute(select(Permit.project_name, Permit.bureau_code)
                                  .where(Permit.project_name.in_(["表单新建项目", "接口新建项目", "表单乙局项目"]))
                                  .order_by(Permit.project_name)).all()
        assert [tuple(r) for r in made] == [("接口新建项目", A), ("表单新建项目", A)]


def test_session_cookie_alone_gets_401_on_the_api(app):
    client = app.test_client()
    login(client, "admin")
    for path in ("/api/v1/permits/land_use_permit/", "/api/v1/security/users/", "/api/v1/permits/rural_permit/1"):
        assert client.get(path).status_code == 401, path


def test_form_post_without_csrf_token_is_refused(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    # the login form itself: no token, no session
    resp = client.post("/login/", data={"username": A, "password": A})
    assert resp.status_code in (200, 400) and client.get("/resetmypassword/form").status_code == 302
    page = login(client, A, A)               # with the token scraped from the form
    assert page.request.path == "/resetmypassword/form"
    resp = client.post("/resetmypassword/form", data={"password": A_PASSWORD, "conf_password": A_PASSWORD})
    assert resp.status_code in (200, 400)              # the form again (or a refusal), never a redirect
    with app.app_context():
        assert db.session.scalar(select(PermitUser.must_change_password).where(PermitUser.username == A))
    # the same post with the form's token goes through
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    resp = client.post("/resetmypassword/form", data={"password": A_PASSWORD, "conf_password": A_PASSWORD,
                                                      "csrf_token": token})
    assert resp.status_code == 302
    with app.app_context():
        assert not db.session.scalar(select(PermitUser.must_change_password).where(PermitUser.username == A))
    # a permit form without the token creates nothing
    client.post("/permits/rural_permit/add", data=dict(SAMPLES["rural_permit"], bureau=A, project_name="无令牌"))
    with app.app_context():
        assert db.session.scalar(select(Permit.id).where(Permit.project_name == "无令牌")) is None


def test_session_cookie_flags(make_app, monkeypatch):
    from core import config
    monkeypatch.setenv("PERMITS_SESSION_COOKIE_SECURE", "true")
    app = make_app(**config.from_environment())
    client = app.test_client()
    resp = login(client, A, A)
    cookies = [h for h in resp.history[0].headers.getlist("Set-Cookie") if h.startswith("session=")] \
        if resp.history else []
    assert cookies, "login set no session cookie"
    flags = cookies[-1].lower()
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags


def test_no_default_secret(make_app, tmp_path):
    from core import create_app
    one = create_app({"INSTANCE_PATH": str(tmp_path / "one"), "TESTING": True})
    two = create_app({"INSTANCE_PATH": str(tmp_path / "two"), "TESTING": True})
    assert one.config["SECRET_KEY"] and two.config["SECRET_KEY"]
    assert one.config["SECRET_KEY"] != two.config["SECRET_KEY"]
    assert (tmp_path / "one" / "secret_key").stat().st_mode & 0o077 == 0
    import core.config as cfg
    assert not hasattr(cfg, "SECRET_KEY") and not hasattr(cfg, "JWT_SECRET_KEY")


def test_search_and_api_filters_do_not_reach_another_bureau(app):
    _make_b_records(app)
    ui_query = f"?_flt_2_project_name={MARK}"
    api_query = "?q=(filters:!((col:project_name,opr:ct,value:'" + MARK + "')))"
    admin, clerk = app.test_client(), app.test_client()
    login(admin, "admin")
    login(clerk, A, A_PASSWORD)
    admin_token = api_token(app.test_client())
    clerk_token = api_token(app.test_client(), A, A_PASSWORD)
    for code in [t.code for t in app.extensions["permits"].registry]:
        name = f"{MARK}{code}项目"          # the query itself is echoed in the page: look for the record
        # the province admin finds B's records with these very queries ...
        assert name in admin.get(f"/permits/{code}/list/{ui_query}").get_data(as_text=True)
        found = admin.get(f"/api/v1/permits/{code}/{api_query}", headers=admin_token).json
        assert found["count"] == 2, found
        # ... the clerk of A does not
        assert name not in clerk.get(f"/permits/{code}/list/{ui_query}").get_data(as_text=True)
        found = clerk.get(f"/api/v1/permits/{code}/{api_query}", headers=clerk_token).json
        assert found["count"] == 0 and MARK not in str(found["result"])
