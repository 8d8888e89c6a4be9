"""Public verification of certificates (no login): ``/v/<payload>``, ``/v/keys``, ``/api/v1/verify/<payload>``.

The QR of every certificate holds ``{PERMITS_BASE_URL}/v/{payload}``.  A
check decodes the payload, verifies its Ed25519 signature with the
province's public keys, finds the number in the database and compares the
bureau, the issue date and the digest of the printed fields; the status is
read live, so a revocation shows on the next scan:

* 有效 (``valid``), 试运行 (``trial``: issued before go-live),
* 已变更 (``changed``: names the number of the version that replaced it),
* 已撤销 (``revoked``: with the date and the reason),
* 无效 (``invalid``: malformed, altered, signed by an unknown key, or a number
  the registry does not know).

Every check is written to ``verification_log`` (time, number, result, the
client address as a keyed hash) -- a plain log table, not the audit chain.
No personal data is ever shown.  ``permits verify`` checks a payload offline
with nothing but the public key.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import sys
from dataclasses import dataclass, field

import click
from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_appbuilder import Model
from flask_babel import gettext as _
from sqlalchemy import Column, DateTime, Integer, String, select

from . import signing
from .extensions import db
from .models import STATUS_CHANGED, STATUS_ISSUED, STATUS_REVOKED, Permit, utcnow

log = logging.getLogger(__name__)

STATUS_NAMES = {"valid": "有效", "trial": "试运行", "changed": "已变更", "revoked": "已撤销", "invalid": "无效"}

bp = Blueprint("verify", __name__)


class VerificationLog(Model):
    """One row per public check (page, API or QR scan)."""

    __tablename__ = "verification_log"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    number = Column(String(40), index=True)
    result = Column(String(10), nullable=False)
    reason = Column(String(20))
    client_hash = Column(String(32))
    via = Column(String(4), nullable=False, default="page")


@dataclass
class Result:
    status: str
    reason: str = ""              # machine code of why a check failed
    message: str = ""             # Chinese explanation
    payload: signing.Payload | None = None
    permit: Permit | None = None
    ptype: object = None
    number: str | None = None
    successor: Permit | None = None
    latest: Permit | None = None
    fields: list = field(default_factory=list)

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status]

    @property
    def valid_signature(self) -> bool:
        return self.status != "invalid"


def _invalid(reason, message, payload=None, number=None) -> Result:
    return Result("invalid", reason=reason, message=message, payload=payload, number=number)


def _prefixes():
    return {t.letters: t.prefix_char for t in current_app.extensions["permits"].registry}


def public_fields(ptype, permit) -> list[tuple[str, str]]:
    """(label, text) of the key printed fields; personal data never."""
    out = []
    for f in ptype.printed_fields:
        if f.personal:
            continue
        text = f.kind.to_text(getattr(permit, f.name, None))
        if text:
            out.append((f.label_with_unit, text))
    return out


def check(text: str, session=None) -> Result:
    """Decode, verify and look up a payload; never raises for bad input."""
    session = session or db.session
    try:
        payload = signing.decode(text)
    except signing.PayloadError:
        return _invalid("malformed", _("This is not a certificate code of this system."))
    keys = signing.public_keys(current_app.instance_path)
    outcome = signing.check_signature(payload, keys)
    if outcome == "unknown_key":
        return _invalid("unknown_key", _("The code was not signed with a key of this province."), payload)
    if outcome != "ok":
        return _invalid("bad_signature", _("The code has been altered: its signature does not match."), payload)
    try:
        number = payload.number(_prefixes())
    except (signing.PayloadError, ValueError):
        return _invalid("unknown_type", _("The code names a certificate type this system does not know."), payload)
    permit = session.scalar(select(Permit).where(Permit.number == number))
    if permit is None:
        return _invalid("unknown_number", _("The number %(number)s is not in the registry.", number=number),
                        payload, number)
    if (permit.bureau_code != payload.bureau_code or permit.issued_on != payload.issued_on
            or not (permit.digest or "").startswith(payload.digest)):
        return _invalid("mismatch", _("The code does not match the registered certificate %(number)s.",
                                      number=number), payload, number)
    registry = current_app.extensions["permits"].registry
    ptype = registry.get(permit.type_code)
    result = Result("valid", payload=payload, permit=permit, ptype=ptype, number=number,
                    fields=public_fields(ptype, permit) if ptype else [])
    if permit.status == STATUS_REVOKED:
        result.status = "revoked"
    elif permit.status == STATUS_CHANGED:
        result.status = "changed"
        from .numbering import successor
        result.successor = successor(permit, session)
        latest = result.successor
        seen = set()
        while latest is not None and latest.status == STATUS_CHANGED and latest.id not in seen:
            seen.add(latest.id)
            nxt = successor(latest, session)
            if nxt is None:
                break
            latest = nxt
        result.latest = latest
    elif permit.status == STATUS_ISSUED and permit.trial:
        result.status = "trial"
    elif permit.status != STATUS_ISSUED:
        return _invalid("unknown_number", _("The number %(number)s is not in the registry.", number=number),
                        payload, number)
    return result


def client_hash(addr: str | None) -> str | None:
    if not addr:
        return None
    key = str(current_app.config.get("SECRET_KEY", "")).encode("utf-8")
    return hmac.new(key, addr.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def log_check(result: Result, via: str) -> None:
    """Write the log row in its own short transaction; a failure to log never fails the check."""
    try:
        db.session.add(VerificationLog(at=utcnow(), number=result.number, result=result.status,
                                       reason=result.reason or None, client_hash=client_hash(request.remote_addr),
                                       via=via))
        db.session.commit()
    except Exception:  # noqa: BLE001 - logging must not break the public page
        db.session.rollback()
        log.exception("could not write the verification log")


def as_json(result: Result) -> dict:
    out = {"status": result.status, "status_name": result.status_name, "number": result.number}
    if result.status == "invalid":
        out.update(reason=result.reason, message=result.message)
        return out
    permit, ptype = result.permit, result.ptype
    out.update(
        type=ptype.code if ptype else permit.type_code, type_name=ptype.name if ptype else None,
        bureau_code=permit.bureau_code, bureau_name=permit.bureau.name if permit.bureau else None,
        issued_on=permit.issued_on.isoformat() if permit.issued_on else None, trial=bool(permit.trial),
        version=permit.version, key_id=result.payload.key_id,
        fields={label: text for label, text in result.fields},
    )
    if result.status == "changed":
        out["changed_to"] = result.successor.number if result.successor else None
        out["latest"] = result.latest.number if result.latest else None
    if result.status == "revoked":
        out["revoked_on"] = permit.revoked_on.isoformat() if permit.revoked_on else None
        out["revoke_reason"] = permit.revoke_reason
    return out


def _verify_link(permit) -> str | None:
    if permit is None or not permit.payload:
        return None
    return url_for("verify.page", payload=permit.payload)


@bp.route("/v/<path:payload>")
def page(payload):
    try:
        result = check(payload)
    except Exception:  # noqa: BLE001 - a database outage is not a forged certificate
        db.session.rollback()
        log.exception("verification failed")
        return render_template("verify/unavailable.html", app_name=current_app.config.get("APP_NAME", "")), 503
    log_check(result, "page")
    keys = signing.public_keys(current_app.instance_path)
    return render_template("verify/result.html", r=result, key_ids=sorted(keys),
                           successor_link=_verify_link(result.successor),
                           latest_link=_verify_link(result.latest),
                           app_name=current_app.config.get("APP_NAME", ""))


@bp.route("/v/keys")
def keys_page():
    keys = signing.public_keys(current_app.instance_path)
    pems = [(kid, signing.public_pem(key)) for kid, key in sorted(keys.items())]
    if request.args.get("format") == "pem":
        return Response("".join(pem for _kid, pem in pems), mimetype="application/x-pem-file",
                        headers={"Content-Disposition": "attachment; filename=permits-public-keys.pem"})
    if request.args.get("format") == "json":
        return jsonify(keys=[{"key_id": kid, "algorithm": "Ed25519", "pem": pem} for kid, pem in pems])
    return render_template("verify/keys.html", pems=pems, app_name=current_app.config.get("APP_NAME", ""))


@bp.route("/api/v1/verify/<path:payload>")
def api(payload):
    try:
        result = check(payload)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("verification failed")
        return jsonify(status="unavailable", message=_("Verification is unavailable at the moment.")), 503
    log_check(result, "api")
    return jsonify(as_json(result))


def init_app(app) -> None:
    """Register the public blueprint and the certificate panel on permit pages."""
    from .views import register_show_panel
    app.register_blueprint(bp)
    register_show_panel("permits/panels/certificate.html")


# --- offline check ---------------------------------------------------------------------------

def _default_key_file():
    import os
    from pathlib import Path
    instance = os.environ.get("PERMITS_INSTANCE_PATH")
    if not instance:
        from flask import Flask
        instance = Flask("core").instance_path
    return Path(instance) / signing.KEY_DIR / "public.pem"


@click.command("verify")
@click.argument("code")
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False),
              help="PEM file with the province public key(s) (from /v/keys?format=pem). "
                   "Default: the instance folder's public key.")
def verify_command(code, public_key):
    """Check a certificate's QR payload (or its whole URL) offline; exit 0 if the signature is valid."""
    from pathlib import Path
    path = Path(public_key) if public_key else _default_key_file()
    if not path.exists():
        click.echo(f"公钥文件不存在 / no public key file: {path}", err=True)
        sys.exit(1)
    keys = signing.load_public_keys_pem(path.read_text(encoding="ascii"))
    try:
        payload = signing.decode(code)
    except signing.PayloadError:
        click.echo("无效：不是本系统的证书二维码 / invalid: not a certificate code")
        sys.exit(1)
    outcome = signing.check_signature(payload, keys)
    prefixes = dict(signing.DEFAULT_PREFIXES)
    try:
        from .plugins import collect_permit_types, make_plugin_manager
        prefixes.update({t.letters: t.prefix_char for t in collect_permit_types(make_plugin_manager())})
    except Exception:  # noqa: BLE001 - the built-in table is enough offline
        pass
    try:
        number = payload.number(prefixes)
    except (signing.PayloadError, ValueError):
        number = f"?{payload.letters}"
    click.echo(f"编号 number:        {number}")
    click.echo(f"类型 type letters:  {payload.letters}")
    click.echo(f"发证机关 bureau:    {payload.bureau_code}")
    click.echo(f"发证日期 issued on: {payload.issued_on.isoformat()}")
    click.echo(f"摘要 digest:        {payload.digest}")
    click.echo(f"密钥 key id:        {payload.key_id}")
    if outcome == "ok":
        click.echo("签名有效 / signature valid" + ("（试运行编号 / trial number）" if payload.serial > 8_999_999 else ""))
        click.echo("证书状态（变更、撤销）请在线核验 / status (changed, revoked) is shown online")
        sys.exit(0)
    if outcome == "unknown_key":
        click.echo("无效：签名密钥不是本省公钥 / invalid: signed by an unknown key")
    else:
        click.echo("无效：签名不符，内容已被改动 / invalid: bad signature")
    sys.exit(1)
