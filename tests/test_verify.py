"""Public verification (no login): statuses read live, forged codes, the log, the keys, the offline CLI."""
from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from numbering_support import issue, new_draft

STATUS_NAMES = ("有效", "试运行", "已变更", "已撤销", "证书无效")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from conftest import build_app
    app = build_app(tmp_path_factory.mktemp("verify"))
    yield app
    with app.app_context():
        from core.extensions import db
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()        # never logged in


def _shown(page):
    return [name for name in STATUS_NAMES if f">{name}<" in page]


def _tamper(payload, pos=20):
    c = payload[pos]
    return payload[:pos] + ("B" if c != "B" else "C") + payload[pos + 1:]


def _log_count(app):
    from core.extensions import db
    from core.verify import VerificationLog
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(VerificationLog))


def test_valid_certificate_page_and_api(app, client):
    number, url, payload = issue(app, new_draft(app), today=dt.date(2025, 4, 18))
    before = _log_count(app)
    resp = client.get("/v/" + payload)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and _shown(page) == ["有效"]
    assert number in page and "郑州市自然资源和规划局中原分局" in page and "2025年4月18日" in page
    assert "测试用地项目" in page and "某某置业有限公司" in page and "建设用地规划许可证" in page
    api = client.get("/api/v1/verify/" + payload)
    assert api.status_code == 200
    body = api.json
    assert (body["status"], body["status_name"], body["number"]) == ("valid", "有效", number)
    assert body["bureau_code"] == "41010201" and body["issued_on"] == "2025-04-18" and body["trial"] is False
    assert body["fields"]["用地单位"] == "某某置业有限公司"
    assert _log_count(app) == before + 2
    from core.extensions import db
    from core.verify import VerificationLog
    with app.app_context():
        rows = db.session.scalars(select(VerificationLog).order_by(VerificationLog.id.desc()).limit(2)).all()
        assert [(r.number, r.result) for r in rows] == [(number, "valid")] * 2
        assert {r.via for r in rows} == {"page", "api"}
        assert all(r.client_hash and "127.0.0.1" not in r.client_hash and len(r.client_hash) == 32 for r in rows)


def test_one_changed_character_is_shown_invalid(app, client):
    _n, _u, payload = issue(app, new_draft(app), today=dt.date(2025, 4, 19))
    for pos in (3, 20, 60, 120):
        bad = _tamper(payload, pos)
        resp = client.get("/v/" + bad)
        assert resp.status_code == 200 and _shown(resp.get_data(as_text=True)) == ["证书无效"], pos
        body = client.get("/api/v1/verify/" + bad).json
        assert body["status"] == "invalid" and body["status_name"] == "无效"
        assert body["reason"] in ("bad_signature", "malformed")


def test_a_code_signed_by_another_key_is_invalid(app, client, tmp_path):
    from core import signing
    _n, _u, payload = issue(app, new_draft(app), today=dt.date(2025, 4, 20))
    signing.ensure_keys(tmp_path)
    decoded = signing.decode(payload)
    forged = signing.sign(decoded.__class__(**{**decoded.__dict__, "key_id": signing.current_key_id(tmp_path)}),
                          signing.load_private(tmp_path))
    body = client.get("/api/v1/verify/" + forged).json
    assert (body["status"], body["reason"]) == ("invalid", "unknown_key")
    page = client.get("/v/" + forged).get_data(as_text=True)
    assert _shown(page) == ["证书无效"] and "不是用本省的签名密钥" in page


def test_an_unknown_number_is_invalid_even_when_signed(app, client):
    from core import signing
    _n, _u, payload = issue(app, new_draft(app), today=dt.date(2025, 4, 21))
    decoded = signing.decode(payload)
    ghost = decoded.__class__(**{**decoded.__dict__, "serial": 7654321})
    code = signing.sign(ghost, signing.load_private(app.instance_path))
    body = client.get("/api/v1/verify/" + code).json
    assert (body["status"], body["reason"], body["number"]) == ("invalid", "unknown_number",
                                                                "地字第4101022025YG7654321号")
    page = client.get("/v/" + code).get_data(as_text=True)
    assert _shown(page) == ["证书无效"] and "地字第4101022025YG7654321号" in page


@pytest.mark.parametrize("junk", ["abc", "%E4%B8%AD", "A" * 500, "x/y/z", "..", "AVlH-_" * 22 + "AA"])
def test_garbage_is_invalid_never_a_server_error(client, junk):
    resp = client.get("/v/" + junk)
    assert resp.status_code in (200, 404)
    if resp.status_code == 200:
        assert _shown(resp.get_data(as_text=True)) == ["证书无效"]
    api = client.get("/api/v1/verify/" + junk)
    assert api.status_code in (200, 404)
    if api.status_code == 200:
        assert api.json["status"] == "invalid"


def test_revocation_shows_on_the_next_scan(app, client):
    from core.extensions import db
    from core.models import Permit
    pk = new_draft(app)
    _n, _u, payload = issue(app, pk, today=dt.date(2025, 4, 22))
    assert client.get("/api/v1/verify/" + payload).json["status"] == "valid"
    with app.app_context():
        permit = db.session.get(Permit, pk)
        permit.status, permit.revoked_on, permit.revoke_reason = "revoked", dt.date(2025, 6, 3), "以欺骗手段取得许可"
        db.session.commit()
    body = client.get("/api/v1/verify/" + payload).json
    assert (body["status"], body["revoked_on"], body["revoke_reason"]) == ("revoked", "2025-06-03", "以欺骗手段取得许可")
    page = client.get("/v/" + payload).get_data(as_text=True)
    assert _shown(page) == ["已撤销"] and "2025年6月3日" in page and "以欺骗手段取得许可" in page


def test_changed_certificate_names_the_new_number_and_both_verify(app, client):
    from core import audit, numbering
    from core.extensions import db
    from core.models import Permit
    pk = new_draft(app)
    old_number, _u, old_payload = issue(app, pk, today=dt.date(2025, 4, 23))
    with app.app_context(), audit.acting_as("test", "job"):
        changed = numbering.change_permit(db.session.get(Permit, pk), {"land_use": "商务金融用地"},
                                          today=dt.date(2025, 5, 1))
        new_number, new_payload = changed.number, changed.permit.payload
    body = client.get("/api/v1/verify/" + old_payload).json
    assert (body["status"], body["changed_to"], body["latest"]) == ("changed", new_number, new_number)
    page = client.get("/v/" + old_payload).get_data(as_text=True)
    assert _shown(page) == ["已变更"] and new_number in page and "/v/" + new_payload in page
    new = client.get("/api/v1/verify/" + new_payload).json
    assert (new["status"], new["number"], new["version"]) == ("valid", new_number, 2)
    assert new["fields"]["土地用途"] == "商务金融用地"


def test_trial_certificate_is_shown_as_trial(app, client):
    app.config["PERMITS_GO_LIVE"] = dt.date(2031, 1, 1)
    try:
        number, _u, payload = issue(app, new_draft(app), today=dt.date(2030, 5, 5))
    finally:
        app.config["PERMITS_GO_LIVE"] = None
    assert client.get("/api/v1/verify/" + payload).json["status"] == "trial"
    page = client.get("/v/" + payload).get_data(as_text=True)
    assert _shown(page) == ["试运行"] and number in page


def test_public_page_shows_no_personal_data(app, client):
    _n, _u, payload = issue(app, new_draft(app, "rural_permit", id_number="11010519491231002X",
                                           homestead_approval_no="宅批〔2025〕17号"), today=dt.date(2025, 4, 24))
    page = client.get("/v/" + payload).get_data(as_text=True)
    body = client.get("/api/v1/verify/" + payload).get_data(as_text=True)
    for secret in ("11010519491231002X", "1002X", "宅批〔2025〕17号"):
        assert secret not in page and secret not in body
    assert "乡村建设规划许可证" in page


def test_public_keys_page_and_pem(app, client):
    from core import signing
    kid = signing.current_key_id(app.instance_path)
    page = client.get("/v/keys").get_data(as_text=True)
    assert kid in page and "BEGIN PUBLIC KEY" in page and "PRIVATE" not in page
    pem = client.get("/v/keys?format=pem")
    assert pem.status_code == 200 and list(signing.load_public_keys_pem(pem.get_data(as_text=True))) == [kid]
    assert client.get("/v/keys?format=json").json["keys"][0]["key_id"] == kid


def test_offline_cli_checks_with_only_the_public_key(app, client, tmp_path):
    from core import signing
    from core.verify import verify_command
    number, url, payload = issue(app, new_draft(app), today=dt.date(2025, 4, 25))
    key_file = tmp_path / "keys.pem"
    key_file.write_text(client.get("/v/keys?format=pem").get_data(as_text=True))
    runner = CliRunner()
    ok = runner.invoke(verify_command, [url, "--public-key", str(key_file)])
    assert ok.exit_code == 0, ok.output
    assert number in ok.output and "41010201" in ok.output and "2025-04-25" in ok.output and "签名有效" in ok.output
    assert runner.invoke(verify_command, [payload, "--public-key", str(key_file)]).exit_code == 0
    bad = runner.invoke(verify_command, [_tamper(payload), "--public-key", str(key_file)])
    assert bad.exit_code == 1 and "无效" in bad.output
    other = tmp_path / "other"
    signing.ensure_keys(other)
    foreign = runner.invoke(verify_command, [payload, "--public-key", str(signing.key_dir(other) / "public.pem")])
    assert foreign.exit_code == 1 and "unknown key" in foreign.output
    assert runner.invoke(verify_command, ["not-a-code", "--public-key", str(key_file)]).exit_code == 1
