"""The province's table of bureau accounts: the clean seed and ``permits import-bureaus``."""
from __future__ import annotations

import csv
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import func, select

from core import bureaus
from core.audit import AuditRecord
from core.extensions import db
from core.models import Bureau, PermitUser

DATA = Path(__file__).parent / "data"
NOTICE = DATA / "notice_attachment.txt"          # the attachment, copied out of the notice as printed
SEEDS = Path(bureaus.__file__).parent.parent / "seeds"


@pytest.fixture
def empty_app(make_app, tmp_path):
    """An initialised app with no bureaus (the seed load switched off).

    It names its own SQLite file, so it is initialised for real (not copied
    from the shared initialised instance, which it must not replace)."""
    with mock.patch.object(bureaus, "load_seed", lambda: []):
        return make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_any_app(request, make_app, tmp_path):
    """:func:`empty_app` on SQLite and on PostgreSQL."""
    overrides = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"}
    if request.param == "postgresql":
        from conftest import _reset_pg
        overrides["SQLALCHEMY_DATABASE_URI"] = request.getfixturevalue("pg_url")
        _reset_pg(overrides["SQLALCHEMY_DATABASE_URI"])
    with mock.patch.object(bureaus, "load_seed", lambda: []):
        return make_app(**overrides)


def _import(app, path, *args):
    result = app.test_cli_runner().invoke(bureaus.import_bureaus_command, [str(path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def _counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Bureau)),
                db.session.scalar(select(func.count()).select_from(PermitUser)),
                db.session.scalar(select(func.count()).select_from(AuditRecord)))


def test_attachment_as_printed_names_every_defect(empty_any_app):
    empty_app = empty_any_app
    out = _import(empty_app, NOTICE)
    assert "数据行 162 行" in out
    # blank city cells: filled from the code, never by copying the row above
    assert "序号75（濮阳市自然资源和规划局，41090001）：补为“濮阳”（上一行属“焦作”，不能照抄上一行）" in out
    assert "序号132（周口市自然资源和规划局，41160001）：补为“周口”（上一行属“信阳”，不能照抄上一行）" in out
    assert "序号141（驻马店市自然资源和规划局，41170001）：补为“驻马店”（上一行属“周口”" in out
    assert "序号142—150（9 行）：补为“驻马店”" in out
    assert "序号2—16（15 行）：补为“郑州”" in out
    assert "序号63—66（4 行）：补为“新乡”" in out          # after the page break
    assert "市县栏空白、按用户名补全的行（132 行）" in out
    # the exact duplicate
    assert "序号140（扶沟县自然资源局，41162101） 与 序号139 完全相同" in out
    # one bureau listed twice
    assert "用户名 41018101 出现 2 次（序号14：郑州／巩义市自然资源和规划局；序号153：巩义／巩义市自然资源和规划局）" in out
    assert "用户名 41048201 出现 2 次（序号33：平顶山／汝州市市自然资源和规划局；序号161：汝州／汝州市自然资源和规划局）" in out
    # every conflicting code, both rows, and how to fix it
    assert "未导入、未建账户（2 个）" in out
    assert "用户名 41152801：序号128（息县自然资源局，41152801）；序号129（新县自然资源局，41152801）" in out
    assert ("用户名 4101G201：序号8（郑州市自然资源和规划局经开分局，4101G201）；"
            "序号162（郑州市自然资源和规划局郑州航空港经济综合实验区分局，4101G201）") in out
    assert out.count("处理办法") == 2 and "--corrections" in out
    # stale division codes
    assert "长垣县于2019年撤县设市" in out and "证书编号使用410783" in out
    assert "济源的区划代码是419001" in out
    assert "新增 155 个" in out and "新建 155 个" in out

    with empty_app.app_context():
        for code in ("41152801", "4101G201"):
            assert db.session.get(Bureau, code) is None
            assert db.session.scalar(select(PermitUser).where(PermitUser.username == code)) is None
        assert db.session.get(Bureau, "41090001").city == "濮阳"
        assert db.session.get(Bureau, "41170201").city == "驻马店"
        assert db.session.get(Bureau, "41018101").city == "巩义"
        assert db.session.get(Bureau, "41048201").name == "汝州市自然资源和规划局"
        changyuan = db.session.get(Bureau, "41072801")
        assert (changyuan.division_code, changyuan.number_code) == ("410783", "410783")
        gaoxin = db.session.get(Bureau, "4101G101")
        assert (gaoxin.division_code, gaoxin.number_code) == ("410100", "410102")
        user = db.session.scalar(select(PermitUser).where(PermitUser.username == "41162101"))
        assert user.bureau_code == "41162101" and user.must_change_password and user.active
        assert [r.name for r in user.roles] == ["县级经办"]
        creations = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "account.create",
                                                                 AuditRecord.obj_id == "41162101")).all()
        assert [(a.actor, a.actor_kind) for a in creations] == [("import-bureaus", "job")]


def test_second_run_changes_nothing_and_dry_run_writes_nothing(empty_any_app):
    empty_app = empty_any_app
    before = _counts(empty_app)
    out = _import(empty_app, NOTICE, "--dry-run")
    assert "试运行结果（--dry-run，未写入数据库）" in out and "将新增 155 个" in out
    assert _counts(empty_app) == before
    _import(empty_app, NOTICE)
    after_first = _counts(empty_app)
    assert after_first[0] == before[0] + 155
    out = _import(empty_app, NOTICE)
    assert "已新增 0 个，已更新 0 个，无变化 155 个" in out and "已新建 0 个" in out
    assert _counts(empty_app) == after_first


def test_corrections_file_resolves_the_conflicts(empty_app):
    out = _import(empty_app, NOTICE, "--corrections", str(SEEDS / "corrections.csv"))
    assert "更正文件（2 条）" in out and "未导入、未建账户（0 个）" in out
    with empty_app.app_context():
        assert db.session.get(Bureau, "41152301").name == "新县自然资源局"
        assert db.session.get(Bureau, "41152801").name == "息县自然资源局"
        assert db.session.get(Bureau, "4101G401").host_code == "410122"


def test_seed_is_the_attachment_with_its_corrections():
    rows, problems, source = bureaus.read_table(NOTICE)
    rows, notes = bureaus.apply_corrections(rows, bureaus.read_corrections(SEEDS / "corrections.csv"))
    assert not problems and len(notes) == 2
    plan = bureaus.analyse(rows, source, hosts=bureaus.seed_hosts())
    seed = {r["code"]: r for r in bureaus.seed_rows()}
    assert set(plan.bureaus) == set(seed)
    for code, values in plan.bureaus.items():
        for key in bureaus.COLUMNS:
            assert (values[key] or "") == seed[code][key], (code, key)
    # every development zone has a host code, every division code has 6 digits
    assert all(r["host_code"] for r in seed.values() if "G" in r["code"])
    assert all(len(r["division_code"]) == 6 and r["division_code"].isdigit() for r in seed.values())


def test_init_creates_every_seed_account(app):
    with app.app_context():
        codes = {r["code"] for r in bureaus.seed_rows()}
        users = db.session.scalars(select(PermitUser).where(PermitUser.username.in_(codes))).all()
        assert len(users) == len(codes) == 159
        assert all(u.must_change_password and u.bureau_code == u.username for u in users)
        seeded = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "bureau.seed")).all()
        assert len(seeded) == 1 and "41010201" in seeded[0].after
    # running init again changes nothing
    with app.app_context():
        assert "新增 0 个，更新 0 个；新建账户 0 个" in bureaus.load_seed()[0]


def _table_rows():
    """The attachment's data rows (序号, 市县, 名称, 用户名) with the printed blanks."""
    rows = []
    for line in NOTICE.read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")
        if len(cells) == 4 and cells[0].isdigit():
            rows.append(cells)
    return rows


def test_xlsx_with_merged_city_cells(empty_app, tmp_path):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "附件"
    ws.append(["河南省规划用地许可管理系统用户名及密码"])
    ws.append(["序号", "市县", "审批主体名称", "用户名"])
    table = _table_rows()[66:90]            # 序号67 焦作 … 序号90 许昌
    for seq, city, name, code in table:
        ws.append([int(seq), city or None, name, int(code) if code.isdigit() else code])
    first = 3
    # 焦作's merged cell as a careless sheet has it: it runs over 序号75, which is 濮阳's
    ws.merge_cells(start_row=first, end_row=first + 8, start_column=2, end_column=2)      # 67..75
    ws.merge_cells(start_row=first + 9, end_row=first + 20, start_column=2, end_column=2)  # 76..87 (text on 76)
    ws.merge_cells(start_row=first + 21, end_row=first + 23, start_column=2, end_column=2)  # 88..90
    path = tmp_path / "bureaus.xlsx"
    wb.save(path)
    out = _import(empty_app, path)
    assert "Excel 工作表“附件”" in out and "数据行 24 行" in out
    assert "序号75（濮阳市自然资源和规划局，41090001）：市县栏为“焦作”，但用户名前4位4109属“濮阳”" in out
    assert "取自合并单元格" in out
    with empty_app.app_context():
        assert db.session.get(Bureau, "41090001").city == "濮阳"
        assert db.session.get(Bureau, "41080001").city == "焦作"
        assert db.session.get(Bureau, "41100301").city == "许昌"
        assert db.session.get(Bureau, "41090201").name == "濮阳市自然资源和规划局华龙区分局"   # numeric cell read back
        assert db.session.scalar(select(func.count()).select_from(Bureau)) == 24


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_csv_in_gb18030_and_utf8_bom(empty_app, tmp_path, encoding):
    path = tmp_path / f"bureaus-{encoding}.csv"
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["序号", "市县", "审批主体名称", "用户名"])
        for row in _table_rows()[123:131]:            # 信阳, with the 息县/新县 conflict
            writer.writerow(row)
        writer.writerow(["200", "郑州", "格式不对的局", "4101001"])
        writer.writerow(["201", "", "外省的局", "42010001"])
        writer.writerow(["202", "开封", "开封错列的局", "41010901"])
    out = _import(empty_app, path)
    assert ("GB18030" if encoding == "gb18030" else "UTF-8（带 BOM）") in out
    assert "用户名 41152801：序号128（息县自然资源局，41152801）；序号129（新县自然资源局，41152801）" in out
    assert "序号200（格式不对的局，4101001）：用户名“4101001”不符合格式" in out
    assert "序号201（外省的局，42010001）：用户名“42010001”不属于河南省" in out
    assert "序号202（开封错列的局，41010901）：市县栏为“开封”，但用户名前4位4101属“郑州”" in out
    with empty_app.app_context():
        assert db.session.get(Bureau, "41150001").name == "信阳市自然资源和规划局"
        assert db.session.get(Bureau, "41152401").city == "信阳"
        assert db.session.get(Bureau, "41010901").city == "郑州"
        assert db.session.get(Bureau, "41152801") is None
        assert db.session.get(Bureau, "42010001") is None
        assert db.session.scalar(select(func.count()).select_from(Bureau)) == 6 + 1


def test_unreadable_file_is_refused_in_chinese(empty_app, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("没有表头\n1\t2\t3\n", encoding="utf-8")
    result = empty_app.test_cli_runner().invoke(bureaus.import_bureaus_command, [str(path)])
    assert result.exit_code != 0 and "找不到表头" in result.output


def test_the_clean_seed_imports_without_a_defect(empty_app):
    out = _import(empty_app, SEEDS / "bureaus.csv")
    for section in ("市县栏空白、按用户名补全的行（0 行）", "完全重复的行（只导入一次）（0 处）",
                    "同一审批主体重复列出（只导入一次）（0 处）", "未导入、未建账户（0 个）", "已拒绝（0 行）",
                    "需要核对的警告（0 条）"):
        assert section in out, section
    assert "已新增 159 个" in out
