"""Attachments: kinds by content, size limit, Chinese names, isolation, supersede-not-delete, audit."""
from __future__ import annotations

import io
import os
import zipfile
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from conftest import ADMIN_PASSWORD, SAMPLES, api_token, login as form_login
from filing_support import CLERK_PASSWORD, audit_rows, make_user

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
DWG = b"AC1032" + b"\x00" * 64
CONTRACT = "国有建设用地使用权出让合同或划拨决定书"


def login(client, username="admin", password=ADMIN_PASSWORD):
    """Log in through the form (pages) and carry a bearer token (the REST API takes tokens only)."""
    resp = form_login(client, username, password)
    client.environ_base["HTTP_AUTHORIZATION"] = api_token(client, username, password)["Authorization"]
    return resp


def zip_with(*names):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(name, "<x/>")
    return buf.getvalue()


def new_permit(app, bureau="41010201", code="land_use_permit", status="draft", **values):
    with app.app_context():
        from core import records
        from core.extensions import db
        from core.models import Permit
        state = app.extensions["permits"]
        ptype = state.registry[code]
        clean, errors = ptype.clean(dict(SAMPLES[code], **values))
        assert not errors, errors
        with __import__("core.audit", fromlist=["acting_as"]).acting_as("test", "job"):
            item = records.create(ptype, state.models[code], clean, bureau)
        db.session.commit()
        if status != "draft":
            db.session.get(Permit, item.id).status = status
            db.session.commit()
        return item.id


@pytest.fixture
def clerk(app, client):
    make_user(app, "zy_clerk", "41010201")
    login(client, "zy_clerk", CLERK_PASSWORD)
    return client


def upload(client, pk, data, name, category="其他", **extra):
    return client.post(f"/api/v1/attachments/permit/{pk}", data=dict(
        file=(io.BytesIO(data), name), category=category, **extra), content_type="multipart/form-data")


def stored_files(app):
    folder = os.path.join(app.instance_path, "attachments")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def attachment_count(app):
    with app.app_context():
        from core.attachments import Attachment
        from core.extensions import db
        return db.session.scalar(select(func.count()).select_from(Attachment))


def test_kinds_are_decided_by_content(tmp_path):
    from core.attachments import sniff
    cases = {"pdf": PDF, "png": PNG, "jpeg": JPEG, "dwg": DWG,
             "ofd": zip_with("OFD.xml", "Doc_0/Document.xml"),
             "docx": zip_with("[Content_Types].xml", "word/document.xml"),
             "xlsx": zip_with("[Content_Types].xml", "xl/workbook.xml"),
             "zip": zip_with("图纸/总平面图.txt"), None: EXE}
    for kind, data in cases.items():
        path = tmp_path / f"f_{kind}"
        path.write_bytes(data)
        assert sniff(data[:16], str(path)) == kind, kind
    assert sniff(b"PK\x03\x04broken", str(tmp_path / "f_pdf")) is None


def test_a_pdf_renamed_jpg_and_an_exe_renamed_pdf_are_refused(app, clerk):
    pk = new_permit(app)
    resp = upload(clerk, pk, PDF, "规划条件.jpg")
    assert resp.status_code == 422
    assert resp.json["message"] == "“规划条件.jpg”的内容是 PDF 文件，但文件名后缀是“.jpg”，请改为 .pdf 或上传正确的文件"
    resp = upload(clerk, pk, EXE, "出让合同.pdf")
    assert resp.status_code == 422
    assert resp.json["message"].startswith("“出让合同.pdf”不是可接受的文件类型")
    assert attachment_count(app) == 0 and stored_files(app) == []
    assert upload(clerk, pk, PDF, "规划条件.pdf", category="不是类别").status_code == 422


def test_chinese_file_name_survives_the_round_trip(app, clerk):
    pk = new_permit(app)
    name = "郑州市国有建设用地使用权出让合同（2026）第 12 号.pdf"
    resp = upload(clerk, pk, PDF, name, category=CONTRACT)
    assert resp.status_code == 201, resp.json
    att = resp.json["result"]
    import hashlib
    assert att["filename"] == name and att["sha256"] == hashlib.sha256(PDF).hexdigest() and att["kind"] == "pdf"
    # stored under a generated name in the instance folder, never the user's
    assert stored_files(app) and name not in stored_files(app)[0]
    down = clerk.get(f"/api/v1/attachments/{att['id']}/file")
    assert down.status_code == 200 and down.data == PDF
    disposition = down.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == name
    disposition.encode("latin-1")       # the header itself is plain ASCII
    # the same through the page, and the show page lists name and SHA-256
    page = clerk.get(f"/attachments/{att['id']}/download")
    assert page.status_code == 200 and unquote(page.headers["Content-Disposition"].split("''", 1)[1]) == name
    show = clerk.get(f"/permits/land_use_permit/show/{pk}").get_data(as_text=True)
    assert name in show and att["sha256"] in show


def test_too_large_file_is_refused_with_nothing_stored(make_app):
    app = make_app(PERMITS_MAX_UPLOAD_MB=1)
    client = app.test_client()
    make_user(app, "zy_clerk", "41010201")
    login(client, "zy_clerk", CLERK_PASSWORD)
    pk = new_permit(app)
    big = PDF + b"0" * (1024 * 1024)
    resp = upload(client, pk, big, "大文件.pdf")
    assert resp.status_code == 413
    assert resp.json["message"] == "文件超过 1 MB，未保存"
    assert attachment_count(app) == 0 and stored_files(app) == []
    assert audit_rows(app, "attachment.upload") == []
    assert upload(client, pk, PDF, "小文件.pdf").status_code == 201


def test_another_bureaus_attachment_answers_404(app, clerk):
    pk = new_permit(app)
    att = upload(clerk, pk, PDF, "规划条件.pdf", category="规划条件").json["id"]
    make_user(app, "gy_clerk", "41018101")
    other = app.test_client()
    login(other, "gy_clerk", CLERK_PASSWORD)
    assert other.get(f"/api/v1/attachments/{att}/file").status_code == 404
    assert other.get(f"/attachments/{att}/download").status_code == 404
    assert other.get(f"/api/v1/attachments/permit/{pk}").status_code == 404
    assert upload(other, pk, PDF, "x.pdf").status_code == 404
    assert other.delete(f"/api/v1/attachments/{att}").status_code == 404
    assert attachment_count(app) == 1
    # the province sees it
    admin = app.test_client()
    login(admin)
    assert admin.get(f"/attachments/{att}/download").status_code == 200


def test_issued_permit_files_are_superseded_not_deleted(app, clerk):
    draft = new_permit(app)
    first = upload(clerk, draft, PDF, "草稿附件.pdf").json["id"]
    assert clerk.delete(f"/api/v1/attachments/{first}").status_code == 200
    assert attachment_count(app) == 0 and stored_files(app) == []

    pk = new_permit(app, status="issued")
    old = upload(clerk, pk, PDF, "规划条件.pdf", category="规划条件").json["id"]
    refused = clerk.delete(f"/api/v1/attachments/{old}")
    assert refused.status_code == 409
    page = clerk.post(f"/attachments/{old}/delete", follow_redirects=True)
    assert "已发证许可的附件不能删除" in refused.json["message"]
    assert "已发证许可的附件不能删除" in page.get_data(as_text=True)
    new = upload(clerk, pk, PNG, "规划条件（修订）.png", category="其他", supersedes=str(old))
    assert new.status_code == 201
    assert new.json["result"]["category"] == "规划条件"       # the replaced file's category
    listing = clerk.get(f"/api/v1/attachments/permit/{pk}").json["result"]
    by_id = {a["id"]: a for a in listing}
    assert by_id[old]["superseded_by"] == new.json["id"] and by_id[new.json["id"]]["superseded_by"] is None
    assert clerk.get(f"/api/v1/attachments/{old}/file").data == PDF       # still retrievable
    assert upload(clerk, pk, PDF, "再次替换.pdf", supersedes=str(old)).status_code == 409
    assert attachment_count(app) == 2


def test_required_attachments_follow_the_declaration(app, clerk):
    from core.attachments import check_before_issue, missing_required
    pk = new_permit(app, acquisition="出让")
    with app.app_context():
        from core.extensions import db
        from core.models import Permit
        permit = db.session.get(Permit, pk)
        assert missing_required(permit) == [CONTRACT]
        assert CONTRACT in check_before_issue(permit)["attachments"]
    show = clerk.get(f"/permits/land_use_permit/show/{pk}").get_data(as_text=True)
    assert "missing-attachments" in show
    upload(clerk, pk, PDF, "出让合同.pdf", category=CONTRACT)
    with app.app_context():
        from core.extensions import db
        from core.models import Permit
        assert missing_required(db.session.get(Permit, pk)) == []
        assert check_before_issue(db.session.get(Permit, pk)) == {}
    hb = new_permit(app, acquisition="划拨")
    with app.app_context():
        from core.extensions import db
        from core.models import Permit
        assert missing_required(db.session.get(Permit, hb)) == []


def test_upload_through_the_page_and_audit_of_upload_and_download(app, clerk):
    pk = new_permit(app)
    resp = clerk.post(f"/attachments/permit/{pk}/upload", data={
        "file": (io.BytesIO(DWG), "总平面图.dwg"), "category": "详细规划"}, content_type="multipart/form-data",
        follow_redirects=True)
    assert resp.status_code == 200 and "总平面图.dwg" in resp.get_data(as_text=True)
    with app.app_context():
        from core.attachments import Attachment
        from core.extensions import db
        att = db.session.scalar(select(Attachment))
        assert (att.kind, att.category, att.uploaded_by, att.bureau_code) == ("dwg", "详细规划", "zy_clerk", "41010201")
    clerk.get(f"/attachments/{att.id}/download")
    up = audit_rows(app, "attachment.upload")
    down = audit_rows(app, "attachment.download")
    assert [(r[0], r[1], r[2], r[3]) for r in up] == [("zy_clerk", "user", str(att.id), "41010201")]
    assert [(r[0], r[1], r[2]) for r in down] == [("zy_clerk", "user", str(att.id))]
    assert "总平面图.dwg" in up[0][4]


def test_attachments_on_both_databases(any_app):
    client = any_app.test_client()
    make_user(any_app, "zy_clerk", "41010201")
    login(client, "zy_clerk", CLERK_PASSWORD)
    pk = new_permit(any_app)
    resp = upload(client, pk, zip_with("OFD.xml"), "电子证照.ofd", category="不动产登记证书")
    assert resp.status_code == 201 and resp.json["result"]["kind"] == "ofd"
    assert client.get(f"/api/v1/attachments/{resp.json['id']}/file").status_code == 200
    assert len(audit_rows(any_app, "attachment.download")) == 1


def test_certificate_and_attachment_list_print_as_one_pdf(app, clerk, tmp_path):
    numbering = pytest.importorskip("core.numbering")
    import subprocess
    pk = new_permit(app, acquisition="出让")
    upload(clerk, pk, PDF, "郑州市出让合同（2026）第12号.pdf", category=CONTRACT)
    upload(clerk, pk, PNG, "总平面图.png", category="详细规划")
    draft = clerk.get(f"/attachments/permit/{pk}/print.pdf", follow_redirects=True)
    assert "只有已发证的许可才有证书" in draft.get_data(as_text=True)
    with app.app_context():
        from core.audit import acting_as
        from core.extensions import db
        from core.models import Permit
        with acting_as("test", "job"):
            numbering.issue_permit(db.session.get(Permit, pk))
        number = db.session.get(Permit, pk).number
    show = clerk.get(f"/permits/land_use_permit/show/{pk}").get_data(as_text=True)
    assert 'id="print-with-attachments"' in show
    resp = clerk.get(f"/attachments/permit/{pk}/print.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    path = tmp_path / "all.pdf"
    path.write_bytes(resp.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert number in text and "附件清单" in text
    assert "郑州市出让合同" in text and "总平面图.png" in text      # long names wrap inside their cell
    import hashlib
    assert hashlib.sha256(PNG).hexdigest()[:32] in text

    pages = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert int(pages.split("Pages:")[1].split()[0]) >= 2
    prints = audit_rows(app, "permit.print")
    assert prints[-1][0] == "zy_clerk" and "with_attachments" in prints[-1][4]
    other = app.test_client()
    make_user(app, "gy_clerk", "41018101")
    login(other, "gy_clerk", CLERK_PASSWORD)
    assert other.get(f"/attachments/permit/{pk}/print.pdf").status_code == 404


def test_a_permit_issued_with_its_contract_can_be_changed(app, clerk):
    """The new version of a 变更 has no files of its own: the contract of the issued version counts."""
    from core import numbering
    from core.audit import acting_as
    from core.extensions import db
    from core.models import Permit
    pk = new_permit(app, acquisition="出让")
    assert upload(clerk, pk, PDF, "出让合同.pdf", category=CONTRACT).status_code == 201
    with app.app_context():
        with acting_as("test", "job"):
            numbering.issue_permit(db.session.get(Permit, pk))
            changed = numbering.change_permit(db.session.get(Permit, pk), {"holder": "更名后的用地单位"},
                                              reason="单位更名")
            again = numbering.change_permit(db.session.get(Permit, changed.permit.id), {"holder": "再次更名的单位"},
                                            reason="再次更名")
        assert db.session.get(Permit, pk).status == "changed"
        assert again.permit.version == 3 and again.permit.holder == "再次更名的单位"
    bare = new_permit(app, acquisition="出让")          # without the contract it is still refused
    with app.app_context():
        with acting_as("test", "job"):
            with pytest.raises(numbering.IssueError) as refused:
                numbering.issue_permit(db.session.get(Permit, bare))
        assert CONTRACT in refused.value.errors["attachments"]
