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


@audit_cli.command("head")
@click.option("--json", "as_json", is_flag=True, help="Print the head as JSON.")
@with_appcontext
def head_cmd(as_json):
    """Print the current head (count, hash, time) in a form that can be published or countersigned."""
    from . import audit
    the_head = audit.head()
    if the_head is None:
        click.echo("审计链尚未建立 / no audit chain (run `permits init`)", err=True)
        sys.exit(1)
    line = audit.head_line(the_head)
    algo = line.split(":")[3]
    if as_json:
        click.echo(json.dumps({"count": the_head.seq, "hash": the_head.hash, "algorithm": algo,
                               "time_utc": the_head.at.strftime("%Y-%m-%dT%H:%M:%SZ") if the_head.at else None,
                               "time_local": audit.format_local(the_head.at) or None,
                               "line": line}, ensure_ascii=False))
        return
    click.echo("河南省规划用地许可管理系统 审计链头 / audit chain head")
    click.echo(f"记录条数 count : {the_head.seq}")
    click.echo(f"链头哈希 hash  : {the_head.hash} ({algo})")
    click.echo(f"时间 time      : {audit.format_local(the_head.at)} 北京时间"
               + (f" ({the_head.at.strftime('%Y-%m-%dT%H:%M:%SZ')})" if the_head.at else ""))
    click.echo(line)
