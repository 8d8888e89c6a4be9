"""``permits audit …``: check the audit chain and publish its head."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext


@click.group("audit")
def audit_cli():
    """The audit trail: verify the hash chain, print its head."""


@audit_cli.command("verify")
@click.option("--head", "published", default=None,
              help="A head published earlier (the line printed by `permits audit head`, or SEQ:HASH); "
                   "the chain must still contain it.")
@with_appcontext
def verify_cmd(published):
    """Walk the whole chain. Exit 1 naming the first bad record; exit 0 printing count and head hash."""
    from . import audit
    expect = None
    if published:
        try:
            expect = audit.parse_head_line(published)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--head")
    count, last_hash, problem = audit.verify(expect=expect)
    if problem is not None:
        click.echo(f"审计链校验失败 / audit chain BROKEN at seq {problem.seq} ({problem.kind}): {problem}", err=True)
        sys.exit(1)
    click.echo(f"审计链完整 / audit chain intact: {count} records, head {last_hash}")


def sign_line(line: str) -> str:
    """``ed25519:<key id>:<base64url signature>`` of a head line, with the province signing key."""
    from flask import current_app
    from . import signing
    key = signing.load_private(current_app.instance_path)
    return f"ed25519:{signing.key_id(key.public_key())}:{signing.b64encode(key.sign(line.encode('ascii')))}"


def check_line_signature(line: str, signature: str, keys: dict) -> bool:
    from cryptography.exceptions import InvalidSignature
    from . import signing
    try:
        algo, kid, sig = signature.strip().split(":")
        if algo != "ed25519" or kid not in keys:
            return False
        keys[kid].verify(signing.b64decode(sig), line.strip().encode("ascii"))
        return True
    except (ValueError, InvalidSignature, signing.PayloadError):
        return False


@audit_cli.command("head")
@click.option("--json", "as_json", is_flag=True, help="Print the head as JSON.")
@click.option("--sign", "do_sign", is_flag=True,
              help="Also sign the head line with the province signing key (checked by `permits audit check-head`).")
@with_appcontext
def head_cmd(as_json, do_sign):
    """Print the current head (count, hash, time) in a form that can be published or countersigned."""
    from . import audit
    the_head = audit.head()
    if the_head is None:
        click.echo("审计链尚未建立 / no audit chain (run `permits init`)", err=True)
        sys.exit(1)
    line = audit.head_line(the_head)
    algo = line.split(":")[3]
    signature = sign_line(line) if do_sign else None
    if as_json:
        click.echo(json.dumps({"count": the_head.seq, "hash": the_head.hash, "algorithm": algo,
                               "time_utc": the_head.at.strftime("%Y-%m-%dT%H:%M:%SZ") if the_head.at else None,
                               "time_local": audit.format_local(the_head.at) or None,
                               "line": line, "signature": signature}, ensure_ascii=False))
        return
    click.echo("河南省规划用地许可管理系统 审计链头 / audit chain head")
    click.echo(f"记录条数 count : {the_head.seq}")
    click.echo(f"链头哈希 hash  : {the_head.hash} ({algo})")
    click.echo(f"时间 time      : {audit.format_local(the_head.at)} 北京时间"
               + (f" ({the_head.at.strftime('%Y-%m-%dT%H:%M:%SZ')})" if the_head.at else ""))
    click.echo(line)
    if signature:
        click.echo(signature)


@audit_cli.command("check-head")
@click.argument("line")
@click.argument("signature")
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False),
              help="PEM file with the province public key(s) (default: this instance's keys).")
@with_appcontext
def check_head_cmd(line, signature, public_key):
    """Check the signature of a published head LINE; exit 1 when it does not match."""
    from pathlib import Path
    from flask import current_app
    from . import signing
    keys = (signing.load_public_keys_pem(Path(public_key).read_text(encoding="ascii")) if public_key
            else signing.public_keys(current_app.instance_path))
    if not check_line_signature(line, signature, keys):
        click.echo("签名无效 / signature does NOT match this head line", err=True)
        sys.exit(1)
    click.echo("签名有效 / signature valid")
