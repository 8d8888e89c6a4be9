"""Certificate PDFs (fonts, text, QR), the missing-glyph refusal, and the issue/print/change routes."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import pytest
from sqlalchemy import func, select

from conftest import api_token, login
from numbering_support import CLERK_PASSWORD, get_permit, issue, make_user, new_draft

needs_poppler = pytest.mark.skipif(not (shutil.which("pdffonts") and shutil.which("pdftotext")
                                        and shutil.which("pdftoppm") and shutil.which("zbarimg")),
                                   reason="poppler-utils and zbar-tools are needed")

LONG_HOLDER = "河南省郑州市中原区西流湖街道城中村改造建设投资开发集团有限责任公司第三项目管理分公司"
SCALE = "1号楼：地上18层，计容建筑面积12036.55平方米；\n2号楼：地上11层，计容建筑面积7890.20平方米；\n地下车库不计容。"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from conftest import build_app
    app = build_app(tmp_path_factory.mktemp("certs"))
    make_user(app, "clerk_zy", "41010201")
    make_user(app, "clerk_gy", "41018101")
    yield app
    with app.app_context():
        from core.extensions import db
        db.session.remove()
        db.engine.dispose()


def _pdf(app, pk):
    from core import certificates
    from core.extensions import db
    from core.models import Permit
    with app.test_request_context():
        return certificates.certificate_pdf(db.session.get(Permit, pk))


def _run(*args, stdin=None):
    return subprocess.run(args, capture_output=True, check=True, input=stdin).stdout


def _squash(text):
    return re.sub(r"\s+", "", text)


@needs_poppler
def test_pdf_embeds_every_font_gives_back_the_values_and_its_qr_decodes(app, tmp_path):
    pk = new_draft(app, holder=LONG_HOLDER, construction_scale=SCALE, net_area="10001.5",
                   approval_doc="郑政土〔2025〕118号", project_code="2019-410102-47-03-012345")
    number, url, _payload = issue(app, pk, today=dt.date(2025, 5, 20))
    pdf = tmp_path / "cert.pdf"
    pdf.write_bytes(_pdf(app, pk))
    fonts = _run("pdffonts", str(pdf)).decode().splitlines()[2:]
    assert len(fonts) >= 2
    for line in fonts:
        name, emb, sub = line.split()[0], line.split()[-5], line.split()[-4]
        assert (emb, sub) == ("yes", "yes"), line
    names = " ".join(f.split()[0] for f in fonts)
    assert "UMing" in names and "WenQuanYi" in names
    text = _run("pdftotext", "-enc", "UTF-8", str(pdf), "-").decode("utf-8")
    squashed = _squash(text)
    permit = get_permit(app, pk)
    ptype = app.extensions["permits"].registry["land_use_permit"]
    checked = 0
    for f in ptype.printed_fields:
        value = f.kind.to_text(getattr(permit, f.name))
        if not value:
            continue
        checked += 1
        if "\n" in value or len(value) > 30:      # wrapped inside its cell: compare without line breaks
            assert _squash(value) in squashed, f.name
        else:
            assert value in text, (f.name, value)
    assert checked >= 9
    assert "12345.67" in text and "10001.50" in text and "2019-410102-47-03-012345" in text
    assert "总用地面积（平方米）" in text
    assert number in text and "郑州市自然资源和规划局中原分局" in text and "2025年5月20日" in text
    assert "建设用地规划许可证" in text and "中华人民共和国" in text and "试运行" not in text
    _run("pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page"))
    png = next(tmp_path.glob("page*.png"))
    decoded = _run("zbarimg", "--quiet", "--raw", str(png)).decode().strip()
    assert decoded == url


@needs_poppler
def test_every_type_prints_from_its_plugin_template(app, tmp_path):
    registry = app.extensions["permits"].registry
    with app.app_context():
        for ptype in registry:
            assert app.jinja_env.get_template(ptype.certificate_template).filename.endswith(
                f"plugins/{ptype.code}/templates/{ptype.code}/certificate.html")
    for ptype in registry:
        pk = new_draft(app, ptype.code, bureau="41018101")
        number, _u, _p = issue(app, pk, today=dt.date(2025, 6, 1))
        pdf = tmp_path / f"{ptype.code}.pdf"
        pdf.write_bytes(_pdf(app, pk))
        text = _run("pdftotext", "-enc", "UTF-8", str(pdf), "-").decode("utf-8")
        assert _squash(ptype.certificate_title) in _squash(text) and number in text
        assert "遵守事项" in text or "说明" in text
        assert text.count(number) == 1


@needs_poppler
def test_trial_certificates_carry_the_trial_mark(app, tmp_path):
    app.config["PERMITS_GO_LIVE"] = dt.date(2030, 1, 1)
    try:
        pk = new_draft(app)
        number, _u, _p = issue(app, pk, today=dt.date(2029, 12, 1))
    finally:
        app.config["PERMITS_GO_LIVE"] = None
    assert number.endswith("2029YG9000001号")
    pdf = tmp_path / "trial.pdf"
    pdf.write_bytes(_pdf(app, pk))
    assert "试运行" in _run("pdftotext", "-enc", "UTF-8", str(pdf), "-").decode("utf-8")


def test_a_character_missing_from_the_font_is_refused_before_numbering(app):
    from core.extensions import db
    from core.numbering import IssueError, NumberCounter
    pk = new_draft(app, holder="河南鿏材料科技有限公司")          # U+9FCF is in no certificate font
    with app.app_context():
        before = db.session.scalar(select(func.coalesce(func.sum(NumberCounter.value), 0)))
    with pytest.raises(IssueError) as err:
        issue(app, pk, today=dt.date(2025, 7, 7))
    message = err.value.errors["holder"]
    assert "用地单位" in message and "鿏" in message and "9FCF" in message
    assert get_permit(app, pk).number is None and get_permit(app, pk).status == "draft"
    with app.app_context():
        assert db.session.scalar(select(func.coalesce(func.sum(NumberCounter.value), 0))) == before


def test_reprints_are_identical_and_every_print_is_audited(app):
    from core import audit
    from core.extensions import db
    pk = new_draft(app)
    issue(app, pk, today=dt.date(2025, 8, 8))
    first, second = _pdf(app, pk), _pdf(app, pk)
    assert first == second
    import hashlib
    assert get_permit(app, pk).pdf_sha256 == hashlib.sha256(first).hexdigest()
    with app.app_context():
        prints = db.session.scalars(select(audit.AuditRecord).where(
            audit.AuditRecord.action == "permit.print", audit.AuditRecord.obj_id == str(pk))).all()
        assert len(prints) == 2 and all(hashlib.sha256(first).hexdigest() in r.after for r in prints)


def test_a_draft_has_no_certificate(app):
    from core import certificates
    from core.extensions import db
    from core.models import Permit
    pk = new_draft(app)
    with app.test_request_context():
        with pytest.raises(certificates.NotPrintable):
            certificates.certificate_pdf(db.session.get(Permit, pk))


# --- pages ----------------------------------------------------------------------------------------

def test_clerk_issues_prints_and_changes_on_the_pages(app):
    client = app.test_client()
    login(client, "clerk_zy", CLERK_PASSWORD)
    pk = new_draft(app)
    page = client.get(f"/permits/land_use_permit/show/{pk}").get_data(as_text=True)
    assert "发证" in page and "尚未发证" in page
    resp = client.post(f"/permits/land_use_permit/issue/{pk}", follow_redirects=True)
    page = resp.get_data(as_text=True)
    number = get_permit(app, pk).number
    assert resp.status_code == 200 and number and number in page and "已发证，证书编号" in page
    assert "打印证书" in page and "变更" in page and "/v/" + get_permit(app, pk).payload in page
    pdf = client.get(f"/permits/land_use_permit/certificate/{pk}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    form = client.get(f"/permits/land_use_permit/change/{pk}")
    assert form.status_code == 200 and "总用地面积" in form.get_data(as_text=True)
    permit = get_permit(app, pk)
    data = {"project_name": permit.project_name, "holder": permit.holder, "location": permit.location,
            "total_area": "13000", "land_use": permit.land_use, "acquisition": permit.acquisition,
            "change_reason": "用地范围调整"}
    resp = client.post(f"/permits/land_use_permit/change/{pk}", data=data, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "已变更：新版本证书编号" in page
    assert get_permit(app, pk).status == "changed"
    from core.audit import AuditRecord
    from core.extensions import db
    with app.app_context():
        rec = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "permit.change")
                                .order_by(AuditRecord.seq.desc()))
        assert rec.reason == "用地范围调整" and rec.actor == "clerk_zy" and permit.number in rec.before
    # drafts cannot be printed, issued permits cannot be issued again
    assert "只有已发证" in client.get(f"/permits/land_use_permit/certificate/{new_draft(app)}.pdf",
                                      follow_redirects=True).get_data(as_text=True)


def test_another_bureaus_permit_answers_404(app):
    client = app.test_client()
    login(client, "clerk_gy", CLERK_PASSWORD)          # 巩义 cannot see 中原分局's permits
    pk = new_draft(app, bureau="41010201")
    assert client.post(f"/permits/land_use_permit/issue/{pk}").status_code == 404
    assert get_permit(app, pk).number is None
    issue(app, pk, today=dt.date(2025, 9, 9))
    assert client.get(f"/permits/land_use_permit/certificate/{pk}.pdf").status_code == 404
    assert client.get(f"/permits/land_use_permit/change/{pk}").status_code == 404
    headers = api_token(client, "clerk_gy", CLERK_PASSWORD)
    assert client.post(f"/api/v1/permits/land_use_permit/{pk}/issue", headers=headers).status_code == 404
    assert client.get(f"/api/v1/permits/land_use_permit/{pk}/certificate.pdf", headers=headers).status_code == 404
    assert client.post(f"/api/v1/permits/land_use_permit/{pk}/change", json={"total_area": "1"},
                       headers=headers).status_code == 404


# --- API ------------------------------------------------------------------------------------------

def test_api_issue_print_and_change(app):
    client = app.test_client()
    headers = api_token(client, "clerk_zy", CLERK_PASSWORD)
    pk = new_draft(app)
    resp = client.post(f"/api/v1/permits/land_use_permit/{pk}/issue", headers=headers)
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["number"] == get_permit(app, pk).number and body["id"] == pk
    assert body["verification_url"] == "http://permits.test/v/" + get_permit(app, pk).payload
    assert body["status"] == "issued" and body["trial"] is False
    assert client.post(f"/api/v1/permits/land_use_permit/{pk}/issue", headers=headers).status_code == 409
    pdf = client.get(f"/api/v1/permits/land_use_permit/{pk}/certificate.pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    bad = client.post(f"/api/v1/permits/land_use_permit/{pk}/change", json={"total_area": "很多"}, headers=headers)
    assert bad.status_code == 422 and "total_area" in bad.json["message"]
    changed = client.post(f"/api/v1/permits/land_use_permit/{pk}/change",
                          json={"total_area": "15000", "change_reason": "测试"}, headers=headers)
    assert changed.status_code == 200, changed.json
    assert changed.json["previous_number"] == body["number"] and changed.json["number"] != body["number"]
    assert changed.json["version"] == 2
    glyph = new_draft(app, holder="鿏业公司")
    refused = client.post(f"/api/v1/permits/land_use_permit/{glyph}/issue", headers=headers)
    assert refused.status_code == 422 and "鿏" in refused.json["message"]["holder"][0]
    assert get_permit(app, glyph).number is None


@needs_poppler
def test_a_sixth_type_plugin_issues_and_prints_with_its_own_template(make_app, tmp_path):
    builtins = ["plugins.site_selection", "plugins.land_use_permit", "plugins.construction_permit",
                "plugins.rural_permit", "plugins.verification"]
    app = make_app(PERMIT_PLUGINS=builtins + ["fake_plugins.hot_work"])
    from core import audit, records
    from core.extensions import db
    with app.app_context():
        state = app.extensions["permits"]
        ptype, model = state.registry["hot_work"], state.models["hot_work"]
        values, errors = ptype.clean({"project_name": "厂区检修", "holder": "某化工厂", "location": "某工业园",
                                      "applicant": "某化工厂", "site_area": "1.5亩", "level": "一级"})
        assert not errors
        with audit.acting_as("test", "job"):
            pk = records.create(ptype, model, values, "41010201").id
            db.session.commit()
    number, _url, payload = issue(app, pk, today=dt.date(2025, 2, 3))
    assert number == "火字第4101022025DH0000001号"
    pdf = tmp_path / "hot.pdf"
    pdf.write_bytes(_pdf(app, pk))
    text = _run("pdftotext", "-enc", "UTF-8", str(pdf), "-").decode("utf-8")
    assert "动火作业许可" in text and number in text and "1000.00" in text
    assert app.test_client().get("/api/v1/verify/" + payload).json["status"] == "valid"
