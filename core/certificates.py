"""Certificate PDFs: the plugin's template, xhtml2pdf, embedded Chinese fonts, the signed QR.

Each type's template (``<code>/certificate.html`` in the plugin's own
``templates/`` folder) extends ``certificates/base.html``.  Plugin template
folders are found through a Jinja loader set up from the registered
plugins' packages (:func:`init_app`), so a third-party type ships its
certificate the same way as the built-in ones.

Fonts (tech notes §3, §7): AR PL UMing (a 宋体-like serif) for the body and
WenQuanYi Micro Hei for headings, both TrueType, embedded by xhtml2pdf as
subsets.  xhtml2pdf silently prints black boxes for a font it may not read,
so the render gets an explicit :class:`ResourceAccessPolicy` with the font
folders as extra roots and no network at all.  Before a number is assigned,
:func:`glyph_problems` checks that the fonts have every character that will
be printed and names the field and the character when one is missing.

PDFs are rendered after the issuing commit, at first print, with
reportlab's invariant mode so that a reprint of the same version gives the
same bytes; the SHA-256 of the first print is kept on the permit.
"""
from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

from flask import current_app, render_template
from flask_babel import gettext as _
from jinja2 import ChoiceLoader, FileSystemLoader

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
BODY_FONT = "/usr/share/fonts/truetype/arphic/uming.ttc"
HEADING_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
QR_MM = 25
_render_lock = threading.Lock()


# --- templates from plugins ------------------------------------------------------------------

def plugin_template_dirs(pm) -> list[str]:
    """The ``templates/`` folder of every registered plugin package or module that has one."""
    dirs = []
    for _name, plugin in sorted(pm.list_name_plugin(), key=lambda np: str(np[0])):
        module_file = getattr(plugin, "__file__", None)
        if module_file is None:
            module = __import__(type(plugin).__module__, fromlist=["_"])
            module_file = getattr(module, "__file__", None)
        if not module_file:
            continue
        folder = Path(module_file).parent / "templates"
        if folder.is_dir() and str(folder) not in dirs:
            dirs.append(str(folder))
    return dirs


def init_app(app) -> None:
    """Let Jinja find the plugins' templates (after the app's and the blueprints' own)."""
    pm = app.extensions["permits"].pm
    dirs = plugin_template_dirs(pm)
    if dirs:
        app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(dirs)])


# --- fonts ------------------------------------------------------------------------------------

def font_paths(app=None) -> tuple[str, str]:
    config = (app or current_app).config
    return (config.get("PERMITS_FONT_BODY") or BODY_FONT, config.get("PERMITS_FONT_HEADING") or HEADING_FONT)


@lru_cache(maxsize=8)
def _charset(path: str) -> frozenset:
    """The characters the font can draw (as one-character strings)."""
    from reportlab.pdfbase.ttfonts import TTFontFile
    return frozenset(map(chr, TTFontFile(path, subfontIndex=0).charToGlyph))


def missing_chars(text: str, font_path: str) -> list[str]:
    """Characters of ``text`` the font cannot draw (whitespace ignored), in order, once each."""
    have = _charset(font_path)
    if not text or have.issuperset(text):
        return []
    out = []
    for ch in text or "":
        if ch.isspace() or ch in have or ch in out:
            continue
        out.append(ch)
    return out


def glyph_problems(ptype, permit) -> dict:
    """{field name: Chinese message} for printed text the certificate fonts cannot draw."""
    body, heading = font_paths()
    problems = {}
    for f in ptype.printed_fields:
        text = f.kind.to_text(getattr(permit, f.name, None))
        missing = missing_chars(text + f.label_with_unit, body)
        if missing:
            problems[f.name] = _(
                "%(label)s contains the character “%(char)s” (U+%(code)s), which the certificate font "
                "cannot print; nothing was numbered. Check the spelling or write a standard character.",
                label=f.label, char=missing[0], code=f"{ord(missing[0]):04X}")
    bureau = getattr(permit, "bureau", None)
    name = bureau.name if bureau is not None else ""
    for ch in missing_chars(name, body)[:1]:
        problems["bureau"] = _(
            "%(label)s contains the character “%(char)s” (U+%(code)s), which the certificate font "
            "cannot print; nothing was numbered. Check the spelling or write a standard character.",
            label="发证机关", char=ch, code=f"{ord(ch):04X}")
    for ch in missing_chars(ptype.certificate_title, heading)[:1]:
        problems["title"] = _(
            "%(label)s contains the character “%(char)s” (U+%(code)s), which the certificate font "
            "cannot print; nothing was numbered. Check the spelling or write a standard character.",
            label="证书名称", char=ch, code=f"{ord(ch):04X}")
    return problems


# --- QR ---------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def qr_png(data: str) -> bytes:
    """The QR code (error correction M, best mask, 4-module quiet zone) as a crisp 1-bit PNG.

    The module matrix comes from ``qrcode``; the image is drawn with Pillow
    directly from it (qrcode's own image path is several times slower).
    """
    import qrcode
    from PIL import Image
    from qrcode.constants import ERROR_CORRECT_M
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=1, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()          # includes the quiet zone
    n = len(matrix)
    img = Image.frombytes("L", (n, n), bytes(0 if dark else 255 for row in matrix for dark in row))
    img = img.resize((n * 8, n * 8), Image.NEAREST).convert("1")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def qr_data_uri(data: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(data)).decode("ascii")


# --- rendering --------------------------------------------------------------------------------

def printed_rows(ptype, permit) -> list[dict]:
    """The printed fields as rows: label, unit, text (and its lines), in declaration order."""
    rows = []
    for f in ptype.printed_fields:
        text = f.kind.to_text(getattr(permit, f.name, None))
        rows.append({"name": f.name, "label": f.label, "unit": f.unit or "", "text": text,
                     "lines": [line for line in text.splitlines() if line.strip()] or [""],
                     "long": len(text) > 40 or "\n" in text})
    return rows


def date_text(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def certificate_context(permit, ptype=None, app=None) -> dict:
    app = app or current_app
    ptype = ptype or app.extensions["permits"].registry[permit.type_code]
    body, heading = font_paths(app)
    from .signing import verification_url
    url = verification_url(app.config.get("PERMITS_BASE_URL", ""), permit.payload or "")
    rows = printed_rows(ptype, permit)
    return {
        "permit": permit, "ptype": ptype, "rows": rows,
        "rows_by_name": {r["name"]: r for r in rows},
        "title": ptype.certificate_title, "number": permit.number or "",
        "bureau_name": permit.bureau.name if permit.bureau is not None else permit.bureau_code,
        "issued_on_text": date_text(permit.issued_on), "trial": bool(permit.trial),
        "version": permit.version or 1, "verify_url": url, "qr": qr_data_uri(url) if permit.payload else "",
        "qr_mm": QR_MM, "body_font": body, "heading_font": heading,
    }


def render_html(permit, ptype=None) -> str:
    ptype = ptype or current_app.extensions["permits"].registry[permit.type_code]
    template = ptype.certificate_template or "certificates/base.html"
    return render_template(template, **certificate_context(permit, ptype))


def policy(app=None):
    from xhtml2pdf.config.resources import ResourceAccessPolicy
    body, heading = font_paths(app)
    roots = tuple(sorted({Path(body).parent, Path(heading).parent}))
    return ResourceAccessPolicy(allow_remote=False, base_dir=TEMPLATES, extra_roots=roots)


def _cache_font_digests() -> None:
    """xhtml2pdf 0.2.28 reads and MD5-hashes every @font-face file on every render (22 MB for
    the two CJK fonts: ~60 % of a bare render).  The digest only tells whether a font name
    still means the same file, so it is cached per (path, size, mtime)."""
    from xhtml2pdf import context
    original = getattr(context, "_file_digest", None)
    if original is None or getattr(original, "_permits_cached", False):
        return
    cache: dict = {}

    def _file_digest(name):
        try:
            st = os.stat(name)
        except (OSError, TypeError):
            return original(name)
        key = (name, st.st_size, st.st_mtime_ns)
        if key not in cache:
            cache[key] = original(name)
        return cache[key]

    _file_digest._permits_cached = True
    context._file_digest = _file_digest


@lru_cache(maxsize=4)
def _base_font(path: str) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    name = "permits-body-" + hashlib.sha256(path.encode()).hexdigest()[:8]
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    return name


def html_to_pdf(html: str, resource_policy=None) -> bytes:
    """xhtml2pdf with the explicit resource policy; reportlab's invariant mode for stable bytes."""
    from reportlab import rl_config
    from reportlab.platypus.tables import CellStyle
    from xhtml2pdf import pisa
    buf = io.BytesIO()
    _cache_font_digests()
    base_font = _base_font(font_paths()[0])
    with _render_lock:   # rl_config is process-global
        old = rl_config.invariant, rl_config.canvas_basefontname, CellStyle.fontname, rl_config.useA85
        # reportlab's canvas and its table cells start in Helvetica, which is never embedded;
        # start them in the embedded body font instead, so every font of the PDF is embedded.
        # Binary streams (no ASCII85): smaller and faster.
        rl_config.invariant, rl_config.canvas_basefontname, CellStyle.fontname, rl_config.useA85 = \
            1, base_font, base_font, 0
        try:
            result = pisa.CreatePDF(html, dest=buf, encoding="utf-8",
                                    resource_policy=resource_policy or policy())
        finally:
            rl_config.invariant, rl_config.canvas_basefontname, CellStyle.fontname, rl_config.useA85 = old
    if result.err:
        raise RuntimeError(f"certificate rendering failed ({result.err} errors)")
    return buf.getvalue()


class NotPrintable(Exception):
    """The permit has no number (a draft): there is no certificate to print."""


def certificate_pdf(permit, ptype=None, *, record: bool = True) -> bytes:
    """The certificate of an issued (or changed/revoked) version; audits the print and keeps its SHA-256."""
    from . import audit
    from .extensions import db
    if not permit.number or not permit.payload:
        raise NotPrintable(_("Only issued permits have a certificate"))
    ptype = ptype or current_app.extensions["permits"].registry[permit.type_code]
    pdf = html_to_pdf(render_html(permit, ptype))
    sha = hashlib.sha256(pdf).hexdigest()
    if record:
        first = permit.pdf_sha256 is None
        if first:
            permit.pdf_sha256 = sha
        elif permit.pdf_sha256 != sha:
            log.warning("reprint of %s differs from its first print (%s != %s)", permit.number, sha,
                        permit.pdf_sha256)
        audit.record("permit.print", obj_type=ptype.code, obj_id=permit.id, obj_bureau=permit.bureau_code,
                     after={"number": permit.number, "sha256": sha, "first": first,
                            "same_as_first": permit.pdf_sha256 == sha})
        db.session.commit()
    return pdf


def pdf_filename(permit) -> str:
    return f"{permit.number or permit.id}.pdf"


def fonts_available(app=None) -> list[str]:
    """Font files that are missing (empty when printing can work)."""
    return [p for p in font_paths(app) if not os.path.exists(p)]
