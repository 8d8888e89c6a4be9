"""Attachments of permits (相关文件): checked by content, kept under generated names.

* The categories come from the type's declaration
  (``PermitType.attachment_categories``), and
  ``PermitType.required_attachments(permit)`` names those needed before
  issuing; :func:`missing_required` is the pre-issue check.
* The kind is decided from the bytes, never from the file name: PDF, OFD
  (a zip with ``OFD.xml``), JPEG, PNG, DOCX/XLSX (a zip with ``word/`` or
  ``xl/``), DWG (``AC10xx``) and ZIP.  A name whose extension does not match
  the content is refused too, so a PDF called ``.jpg`` does not slip by.
* The size limit is ``PERMITS_MAX_UPLOAD_MB`` (default 50); a refused upload
  leaves nothing behind.
* Files live in ``<instance>/attachments/`` (never a served folder) under a
  random name; the original Chinese name is kept for display and download
  (RFC 5987 ``filename*``); the SHA-256 is stored and shown.
* Isolation is the permit's: every query goes through :func:`core.scope.restrict`.
* An attachment of an issued permit cannot be deleted, only superseded by a
  newer file; the old one stays listed and retrievable.
* Upload, download, supersede and delete are audited.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
import zipfile
from urllib.parse import quote

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_appbuilder import BaseView, Model, expose, has_access
from flask_appbuilder.api import BaseApi, protect
from flask_babel import gettext as _
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, select

from . import audit, clock, roles
from .extensions import db
from .models import STATUS_DRAFT, Permit, utcnow
from .scope import ROLE_CITY, ROLE_CLERK, restrict

KINDS = {  # kind -> (name shown, accepted extensions, MIME type)
    "pdf": ("PDF", (".pdf",), "application/pdf"),
    "ofd": ("OFD", (".ofd",), "application/ofd"),
    "jpeg": ("JPEG", (".jpg", ".jpeg"), "image/jpeg"),
    "png": ("PNG", (".png",), "image/png"),
    "docx": ("DOCX", (".docx",),
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": ("XLSX", (".xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "dwg": ("DWG", (".dwg",), "application/acad"),
    "zip": ("ZIP", (".zip",), "application/zip"),
}
CHUNK = 1 << 16


class Attachment(Model):
    __tablename__ = "attachment"
    id = Column(Integer, primary_key=True)
    permit_id = Column(Integer, ForeignKey("permit.id", ondelete="CASCADE"), nullable=False, index=True)
    #: copied from the permit, so the scope applies to attachments directly
    bureau_code = Column(String(8), nullable=False, index=True)
    category = Column(String(60), nullable=False)
    filename = Column(String(255), nullable=False)
    stored_name = Column(String(80), nullable=False, unique=True)
    kind = Column(String(10), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    uploaded_on = Column(DateTime, nullable=False, default=utcnow)
    uploaded_by = Column(String(120), nullable=False)
    superseded_by_id = Column(Integer, ForeignKey("attachment.id"))
    superseded_on = Column(DateTime)

    @property
    def current(self) -> bool:
        return self.superseded_by_id is None

    @property
    def kind_name(self) -> str:
        return KINDS.get(self.kind, (self.kind,))[0]

    @property
    def size_text(self) -> str:
        if self.size >= 1 << 20:
            return f"{self.size / (1 << 20):.1f} MB"
        return f"{max(1, round(self.size / 1024))} KB"


class UploadRefused(ValueError):
    """An upload that is not stored; ``status`` is the HTTP code to answer."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.message = message
        self.status = status


# --- content checks -----------------------------------------------------------------------

def sniff(head: bytes, path: str | None = None) -> str | None:
    """The kind of a file from its first bytes (and, for zips, its member names)."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(head) >= 6 and head[:4] == b"AC10" and head[4:6].isdigit():
        return "dwg"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, TypeError):
            return None
        if any(n.upper() == "OFD.XML" for n in names):
            return "ofd"
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return "docx"
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
        return "zip"
    return None


def clean_filename(name: str) -> str:
    """The user's file name without any folder part or control characters (Chinese kept)."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip().strip(".")
    return name[:200]


def local_time(value, fmt="%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as shown to users."""
    return clock.format_local(value, fmt, blank="—")


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / RFC 5987)."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename) or "file"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def storage_dir() -> str:
    path = os.path.join(current_app.instance_path, "attachments")
    os.makedirs(path, exist_ok=True)
    return path


def max_bytes() -> int:
    return int(current_app.config.get("PERMITS_MAX_UPLOAD_MB", 50)) * (1 << 20)


def _store(stream, filename: str) -> tuple[str, str, int, str]:
    """Copy the upload into storage; returns (stored name, kind, size, sha256) or raises UploadRefused.

    Nothing is left on disk when the upload is refused."""
    limit = max_bytes()
    folder = storage_dir()
    stored = secrets.token_hex(16)
    path = os.path.join(folder, stored)
    tmp = path + ".part"
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(tmp, "xb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(_("The file is larger than %(mb)s MB", mb=limit >> 20), 413)
                if len(head) < 16:
                    head = (head + chunk)[:16]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadRefused(_("The file is empty"))
        kind = sniff(head, tmp)
        if kind is None:
            raise UploadRefused(_("%(name)s is not an accepted kind of file (accepted: %(kinds)s)",
                                  name=filename, kinds="、".join(k[0] for k in KINDS.values())))
        ext = os.path.splitext(filename)[1].lower()
        if ext not in KINDS[kind][1]:
            raise UploadRefused(_("%(name)s is a %(kind)s file by its content, but its name ends in "
                                  "\"%(ext)s\"; rename it to %(good)s or upload the right file",
                                  name=filename, kind=KINDS[kind][0], ext=ext or _("(nothing)"),
                                  good=" / ".join(KINDS[kind][1])))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return stored, kind, size, digest.hexdigest()


def _path(att: Attachment) -> str:
    return os.path.join(storage_dir(), att.stored_name)


# --- queries (always scoped) -----------------------------------------------------------------

def visible_permit(permit_id):
    return db.session.scalar(restrict(select(Permit).where(Permit.id == permit_id), Permit))


def visible_attachment(att_id):
    return db.session.scalar(restrict(select(Attachment).where(Attachment.id == att_id), Attachment))


def attachments_of(permit) -> list[Attachment]:
    query = select(Attachment).where(Attachment.permit_id == permit.id) \
        .order_by(Attachment.category, Attachment.uploaded_on.desc(), Attachment.id.desc())
    return list(db.session.scalars(restrict(query, Attachment)))


def ptype_of(permit):
    return current_app.extensions["permits"].registry[permit.type_code]


def missing_required(permit) -> list[str]:
    """The required categories (by the type's declaration) with no current attachment."""
    ptype = ptype_of(permit)
    required = ptype.required_attachments(permit) if callable(ptype.required_attachments) else []
    if not required:
        return []
    from .models import Permit
    ids = [permit.id] if permit.id else []
    earlier = getattr(permit, "previous_id", None)
    while earlier and earlier not in ids:       # a change (变更): the earlier versions' files count
        ids.append(earlier)
        earlier = db.session.scalar(select(Permit.previous_id).where(Permit.id == earlier))
    have = set(db.session.scalars(select(Attachment.category).where(
        Attachment.permit_id.in_(ids), Attachment.superseded_by_id.is_(None)))) if ids else set()
    return [c for c in required if c not in have]


def check_before_issue(permit, ptype=None) -> dict:
    """Pre-issue check (``core.numbering.PRE_ISSUE_CHECKS``): {"attachments": message} when required files are missing."""
    missing = missing_required(permit)
    if missing:
        return {"attachments": _("Before issuing, upload: %(categories)s", categories="、".join(missing))}
    return {}


# --- operations ---------------------------------------------------------------------------------

def upload(permit, category, file_storage, supersedes=None) -> Attachment:
    """Store an upload for ``permit`` (already scope-checked) and audit it; the caller commits."""
    ptype = ptype_of(permit)
    if category not in ptype.attachment_categories:
        raise UploadRefused(_("Choose one of the categories: %(cats)s", cats="、".join(ptype.attachment_categories)))
    if file_storage is None or not getattr(file_storage, "filename", ""):
        raise UploadRefused(_("Choose a file to upload"))
    filename = clean_filename(file_storage.filename)
    if not filename:
        raise UploadRefused(_("The file has no usable name"))
    old = None
    if supersedes:
        old = visible_attachment(supersedes)
        if old is None or old.permit_id != permit.id:
            raise UploadRefused(_("The file to replace was not found"), 404)
        if not old.current:
            raise UploadRefused(_("That file has already been replaced"), 409)
        category = old.category
    stored, kind, size, sha = _store(file_storage.stream, filename)
    try:
        att = Attachment(permit_id=permit.id, bureau_code=permit.bureau_code, category=category,
                         filename=filename, stored_name=stored, kind=kind, size=size, sha256=sha,
                         uploaded_by=audit.current_actor_identity()[0])
        db.session.add(att)
        db.session.flush()
        if old is not None:
            old.superseded_by_id = att.id
            old.superseded_on = utcnow()
        audit.record("attachment.upload", obj_type="attachment", obj_id=att.id, obj_bureau=permit.bureau_code,
                     after={"permit": permit.id, "category": category, "filename": filename, "sha256": sha,
                            "size": size, "supersedes": old.id if old else None})
    except BaseException:
        os.remove(os.path.join(storage_dir(), stored))
        raise
    return att


def delete(att: Attachment) -> None:
    permit = db.session.get(Permit, att.permit_id)
    if permit.status != STATUS_DRAFT:
        raise UploadRefused(_("Files of an issued permit cannot be deleted; upload a newer file to replace it"), 409)
    if db.session.scalar(select(Attachment.id).where(Attachment.superseded_by_id == att.id)):
        raise UploadRefused(_("This file replaced an older one and cannot be deleted"), 409)
    audit.record("attachment.delete", obj_type="attachment", obj_id=att.id, obj_bureau=att.bureau_code,
                 before={"permit": att.permit_id, "category": att.category, "filename": att.filename,
                         "sha256": att.sha256})
    path = _path(att)
    db.session.delete(att)
    db.session.commit()
    if os.path.exists(path):
        os.remove(path)


def download_response(att: Attachment):
    """Audit the download (committed) and send the file under its original name."""
    audit.record("attachment.download", obj_type="attachment", obj_id=att.id, obj_bureau=att.bureau_code,
                 after={"permit": att.permit_id, "filename": att.filename, "sha256": att.sha256})
    db.session.commit()
    path = _path(att)
    if not os.path.exists(path):
        abort(404)
    resp = send_file(path, mimetype=KINDS.get(att.kind, ("", (), "application/octet-stream"))[2],
                     as_attachment=False, max_age=0)
    resp.headers["Content-Disposition"] = content_disposition(att.filename)
    resp.headers["X-Content-SHA256"] = att.sha256
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def as_dict(att: Attachment) -> dict:
    return {"id": att.id, "permit_id": att.permit_id, "category": att.category, "filename": att.filename,
            "kind": att.kind, "size": att.size, "sha256": att.sha256,
            "uploaded_on": att.uploaded_on.isoformat(timespec="seconds") + "Z", "uploaded_by": att.uploaded_by,
            "superseded_by": att.superseded_by_id}


# --- pages ------------------------------------------------------------------------------------

class AttachmentsView(BaseView):
    """Upload, download and delete attachments (the panel on every permit page posts here)."""

    route_base = "/attachments"
    class_permission_name = "attachments"
    method_permission_name = {"upload_file": "upload", "download": "download", "delete_file": "delete",
                              "print_all": "download"}
    default_view = "download"

    def _back(self, permit):
        view = current_app.extensions["permits"].views.get(permit.type_code)
        if view is None:
            return redirect("/")
        return redirect(url_for(view.__name__ + ".show", pk=permit.id) + "#attachments")

    @expose("/permit/<int:pk>/upload", methods=["POST"])
    @has_access
    def upload_file(self, pk):
        permit = visible_permit(pk)
        if permit is None:
            abort(404)
        supersedes = request.form.get("supersedes", type=int)
        try:
            att = upload(permit, request.form.get("category", ""), request.files.get("file"), supersedes)
            db.session.commit()
        except UploadRefused as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return self._back(permit)
        flash(_("%(name)s uploaded (SHA-256 %(sha)s)", name=att.filename, sha=att.sha256[:16] + "…"), "success")
        return self._back(permit)

    @expose("/<int:pk>/download")
    @has_access
    def download(self, pk):
        att = visible_attachment(pk)
        if att is None:
            abort(404)
        return download_response(att)

    @expose("/permit/<int:pk>/print.pdf")
    @has_access
    def print_all(self, pk):
        """证书及附件: the certificate plus the attachment list (needs ``can_print`` on the type)."""
        from . import certificates
        permit = visible_permit(pk)
        if permit is None:
            abort(404)
        if not current_app.appbuilder.sm.has_access("can_print", permit.type_code):
            abort(403)
        try:
            pdf = certificate_with_attachments_pdf(permit)
        except certificates.NotPrintable as exc:
            flash(str(exc), "danger")
            return self._back(permit)
        resp = current_app.response_class(pdf, mimetype="application/pdf")
        resp.headers["Content-Disposition"] = content_disposition(f"{permit.number}_证书及附件.pdf")
        return resp

    @expose("/<int:pk>/delete", methods=["POST"])
    @has_access
    def delete_file(self, pk):
        att = visible_attachment(pk)
        if att is None:
            abort(404)
        permit = db.session.get(Permit, att.permit_id)
        try:
            name = att.filename
            delete(att)
        except UploadRefused as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return self._back(permit)
        flash(_("%(name)s deleted", name=name), "info")
        return self._back(permit)


def certificate_with_attachments_pdf(permit) -> bytes:
    """证书及附件: the certificate followed by the list of its current attachments, as one PDF.

    Only for a permit with a number (the certificates module refuses drafts);
    the print is audited as ``permit.print`` with ``with_attachments``."""
    from . import certificates
    if not permit.number or not permit.payload:
        raise certificates.NotPrintable(_("Only issued permits have a certificate"))
    ptype = ptype_of(permit)
    current = [a for a in attachments_of(permit) if a.current]
    listing = render_template("filing/attachment_list_print.html", permit=permit, ptype=ptype,
                              attachments=current)
    html = certificates.render_html(permit, ptype)
    cut = html.rfind("</body>")
    html = (html[:cut] + listing + html[cut:]) if cut >= 0 else html + listing
    pdf = certificates.html_to_pdf(html)
    audit.record("permit.print", obj_type=ptype.code, obj_id=permit.id, obj_bureau=permit.bureau_code,
                 after={"number": permit.number, "with_attachments": [a.id for a in current],
                        "sha256": hashlib.sha256(pdf).hexdigest()})
    db.session.commit()
    return pdf


class AttachmentsApi(BaseApi):
    resource_name = "attachments"
    route_base = "/api/v1/attachments"
    openapi_spec_tag = "附件"
    class_permission_name = "attachments"
    method_permission_name = {"list_files": "download", "upload_file": "upload", "download": "download",
                              "delete_file": "delete"}
    allow_browser_login = False   # REST by token only

    @expose("/permit/<int:pk>", methods=["GET"])
    @protect()
    def list_files(self, pk):
        """The attachments of a permit
        ---
        get:
          summary: 列出某许可的附件（含已被替换的旧文件）
          parameters:
          - in: path
            name: pk
            required: true
            schema:
              type: integer
          responses:
            200:
              description: 附件列表
            404:
              description: 未找到
        """
        permit = visible_permit(pk)
        if permit is None:
            return self.response_404()
        ptype = ptype_of(permit)
        return self.response(200, result=[as_dict(a) for a in attachments_of(permit)],
                             categories=list(ptype.attachment_categories), missing_required=missing_required(permit))

    @expose("/permit/<int:pk>", methods=["POST"])
    @protect()
    def upload_file(self, pk):
        """Upload an attachment
        ---
        post:
          summary: 上传附件（multipart：file、category，替换旧文件时加 supersedes）
          parameters:
          - in: path
            name: pk
            required: true
            schema:
              type: integer
          requestBody:
            content:
              multipart/form-data:
                schema:
                  type: object
                  properties:
                    file:
                      type: string
                      format: binary
                    category:
                      type: string
                    supersedes:
                      type: integer
          responses:
            201:
              description: 已保存
            404:
              description: 未找到
            413:
              description: 文件过大
            422:
              description: 文件类型不符或类别有误
        """
        permit = visible_permit(pk)
        if permit is None:
            return self.response_404()
        try:
            att = upload(permit, request.form.get("category", ""), request.files.get("file"),
                         request.form.get("supersedes", type=int))
            db.session.commit()
        except UploadRefused as exc:
            db.session.rollback()
            return self.response(exc.status, message=exc.message)
        return self.response(201, result=as_dict(att), id=att.id)

    @expose("/<int:pk>/file", methods=["GET"])
    @protect()
    def download(self, pk):
        """Download an attachment under its original name
        ---
        get:
          summary: 下载附件（原文件名，UTF-8）
          parameters:
          - in: path
            name: pk
            required: true
            schema:
              type: integer
          responses:
            200:
              description: 文件内容
            404:
              description: 未找到
        """
        att = visible_attachment(pk)
        if att is None:
            return self.response_404()
        return download_response(att)

    @expose("/<int:pk>", methods=["DELETE"])
    @protect()
    def delete_file(self, pk):
        """Delete an attachment of a draft
        ---
        delete:
          summary: 删除草稿的附件（已发证许可的附件只能替换）
          parameters:
          - in: path
            name: pk
            required: true
            schema:
              type: integer
          responses:
            200:
              description: 已删除
            404:
              description: 未找到
            409:
              description: 已发证，只能替换
        """
        att = visible_attachment(pk)
        if att is None:
            return self.response_404()
        try:
            delete(att)
        except UploadRefused as exc:
            db.session.rollback()
            return self.response(exc.status, message=exc.message)
        return self.response(200, message=_("Deleted"))


PANEL = "filing/attachments_panel.html"

roles.EXTRA[ROLE_CLERK] += [("can_upload", "attachments"), ("can_download", "attachments"),
                            ("can_delete", "attachments")]
roles.EXTRA[ROLE_CITY] += [("can_download", "attachments")]


def install(appbuilder, state) -> None:
    from .views import register_show_panel
    appbuilder.add_view_no_menu(AttachmentsView)
    appbuilder.add_api(AttachmentsApi)
    register_show_panel(PANEL)
    app = current_app
    app.jinja_env.globals["permit_attachments"] = attachments_of
    app.jinja_env.globals["permit_missing_attachments"] = missing_required
    app.jinja_env.filters["filing_local_time"] = local_time
    try:  # the numbering module runs these before allocating a number
        from . import numbering
        checks = getattr(numbering, "PRE_ISSUE_CHECKS", None)
        if checks is not None and check_before_issue not in checks:
            checks.append(check_before_issue)
    except ImportError:
        pass

