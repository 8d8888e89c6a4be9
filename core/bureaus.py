"""Bureaus: the province's table of bureau accounts, imported honestly.

Two entry points:

* :func:`load_seed` (``permits init``) loads the clean table ``seeds/bureaus.csv``
  (every correction to the province's table is documented in
  ``seeds/CORRECTIONS.md`` and ``seeds/corrections.csv``) and creates the
  bureaus' accounts;
* ``permits import-bureaus FILE [--dry-run] [--corrections CSV]`` reads a table
  like the notice's attachment *as printed*: tab-separated text (the whole
  notice or the attachment alone, blank lines and header included), ``.xlsx``
  (merged city cells are unmerged) or ``.csv`` (UTF-8 with or without BOM, or
  GB18030), prints a Chinese report naming every defect, and imports only what
  is unambiguous.

What the analysis (:func:`analyse`) decides, row by row:

* the city of a row is the city of its code (``4101`` 郑州 …).  A blank city
  cell gets it -- never simply the city of the row above, because in a
  printed table a merged cell's text need not stand on its group's first row
  (序号75 is 濮阳's first row while "濮阳" is printed on 序号76) -- and every
  filled-in city is checked against the code.  Directly administered
  counties (兰考, 滑县, …) listed under their own name keep their parent
  city's code; that is not a mismatch;
* a row repeated exactly (apart from its 序号) is imported once;
* one bureau listed twice under the same code (same name, or the same name
  but for a doubled character such as "汝州市市…") is imported once, and both
  rows are reported;
* one code given to two different bureaus is a conflict: no bureau and no
  account for that code, both rows are reported with how to fix them;
* a code not matching ``dddd(dd|Gd)dd`` or outside Henan is rejected;
* the 6-digit division code is the code's first six characters, corrected
  where GB/T 2260 has changed since the table was made (长垣 410728 → 410783)
  and for 济源 (419000 is the group of directly administered units, 济源 is
  419001); a development-zone bureau (``G`` in its code) prints the host
  code configured in the seed table.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db
from .models import Bureau

CITY_BY_PREFIX = {
    "4101": "郑州", "4102": "开封", "4103": "洛阳", "4104": "平顶山", "4105": "安阳", "4106": "鹤壁",
    "4107": "新乡", "4108": "焦作", "4109": "濮阳", "4110": "许昌", "4111": "漯河", "4112": "三门峡",
    "4113": "南阳", "4114": "商丘", "4115": "信阳", "4116": "周口", "4117": "驻马店", "4190": "济源",
}
CITY_CODE = {prefix: (prefix + "00" if prefix != "4190" else "419001") for prefix in CITY_BY_PREFIX}

#: Units the province administers directly, listed in the table under their own name:
#: name -> (the city part of their code, their 6-digit division code or None for a zone).
DIRECT = {
    "巩义": ("4101", "410181"), "兰考": ("4102", "410225"), "汝州": ("4104", "410482"),
    "滑县": ("4105", "410526"), "长垣": ("4107", "410783"), "邓州": ("4113", "411381"),
    "永城": ("4114", "411481"), "固始": ("4115", "411525"), "鹿邑": ("4116", "411628"),
    "新蔡": ("4117", "411729"), "济源": ("4190", "419001"),
    "郑州航空港经济综合实验区": ("4101", None), "航空港": ("4101", None),
}

#: Division codes changed in GB/T 2260 since the table was made: old -> (new, why).
RENAMED = {
    "410728": ("410783", "长垣县于2019年撤县设市，区划代码由410728改为410783"),
    "410322": ("410308", "孟津县于2021年撤县设区，区划代码由410322改为410308"),
    "410381": ("410307", "偃师市于2021年撤市设区，区划代码由410381改为410307"),
    "411023": ("411003", "许昌县于2016年撤县设区（建安区），区划代码由411023改为411003"),
    "411222": ("411203", "陕县于2015年撤县设区（陕州区），区划代码由411222改为411203"),
    "411626": ("411603", "淮阳县于2019年撤县设区，区划代码由411626改为411603"),
    "419000": ("419001", "419000是省直辖县级行政区划的汇总码，济源的区划代码是419001"),
}

CODE_PATTERN = re.compile(r"^\d{4}(\d{2}|G\d)\d{2}$")
HEADER_NAMES = {
    "seq": ("序号", "seq"),
    "city": ("市县", "城市", "地市", "市", "city"),
    "name": ("审批主体名称", "审批主体", "单位名称", "名称", "name"),
    "code": ("用户名", "账号", "代码", "code"),
}


# --- reading ---------------------------------------------------------------------------------------

@dataclass
class RawRow:
    """One data row of the table as read (``line`` = line or sheet row number)."""

    line: int
    seq: str
    city: str
    name: str
    code: str
    city_source: str = "cell"     # cell | blank | merged

    @property
    def label(self) -> str:
        return f"序号{self.seq}" if self.seq else f"第{self.line}行"

    def describe(self) -> str:
        return f"{self.label}（{self.name}，{self.code or '无用户名'}）"


class ReadError(Exception):
    """The file cannot be read as a table of bureaus (message in Chinese)."""


def _clean(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", "", str(value).replace("\u3000", " ")).strip()


def _header_map(cells) -> dict | None:
    cells = [_clean(c) for c in cells]
    found = {}
    for key, names in HEADER_NAMES.items():
        for i, cell in enumerate(cells):
            if cell in names and i not in found.values():
                found[key] = i
                break
    return found if {"city", "name", "code"} <= found.keys() else None


def _rows_from_cells(lines, source: str, problems: list) -> list[RawRow]:
    """Rows from (line number, list of cells, merged-flags) after the header line."""
    rows, columns = [], None
    for number, cells, merged in lines:
        if columns is None:
            columns = _header_map(cells)
            continue
        if not any(_clean(c) for c in cells):
            continue           # blank line (page break in the printed table)
        if _header_map(cells):
            continue           # header repeated on a new page
        get = lambda key: _clean(cells[columns[key]]) if key in columns and columns[key] < len(cells) else ""
        row = RawRow(line=number, seq=get("seq"), city=get("city"), name=get("name"), code=get("code").upper())
        if not row.name and not row.code:
            problems.append(f"第{number}行无法识别为审批主体（{' | '.join(_clean(c) for c in cells)}），已跳过")
            continue
        if not row.city:
            row.city_source = "blank"
        elif "city" in columns and merged.get(columns["city"]):
            row.city_source = "merged"
        rows.append(row)
    if columns is None:
        raise ReadError(f"{source}：找不到表头（须有“市县”“审批主体名称”“用户名”三列）")
    return rows


def _decode(data: bytes, source: str) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), ("UTF-8" if encoding == "utf-8-sig" else "GB18030")
        except UnicodeDecodeError:
            continue
    raise ReadError(f"{source}：文件编码无法识别（支持 UTF-8、带 BOM 的 UTF-8 和 GB18030）")


def read_table(path) -> tuple[list[RawRow], list[str], str]:
    """(rows, reading problems, description of the input) from a .txt/.tsv, .csv or .xlsx file."""
    path = Path(path)
    problems: list[str] = []
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        lines, what = _xlsx_lines(path)
    else:
        data = path.read_bytes()
        text, encoding = _decode(data, path.name)
        if data.startswith(b"\xef\xbb\xbf"):
            encoding = "UTF-8（带 BOM）"
        if suffix == ".csv":
            reader = csv.reader(io.StringIO(text))
            lines = [(i, cells, {}) for i, cells in enumerate(reader, start=1)]
            what = f"CSV 文件，{encoding} 编码"
        else:
            lines = [(i, line.split("\t"), {}) for i, line in enumerate(text.splitlines(), start=1)]
            what = f"制表符分隔文本，{encoding} 编码"
    rows = _rows_from_cells(lines, path.name, problems)
    return rows, problems, f"{path.name}（{what}）"


def _xlsx_lines(path):
    from openpyxl import load_workbook
    try:
        wb = load_workbook(path, data_only=True)
    except Exception as exc:  # a broken or foreign file
        raise ReadError(f"{path.name}：无法作为 Excel 文件打开（{type(exc).__name__}）") from None
    ws = wb.worksheets[0]
    values, merged_flags = {}, {}
    for rng in list(ws.merged_cells.ranges):
        top = ws.cell(rng.min_row, rng.min_col).value
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                values[(r, c)] = top
                if (r, c) != (rng.min_row, rng.min_col):
                    merged_flags[(r, c)] = True
    lines = []
    for r in range(1, ws.max_row + 1):
        cells, merged = [], {}
        for c in range(1, ws.max_column + 1):
            cells.append(values.get((r, c), ws.cell(r, c).value))
            if merged_flags.get((r, c)):
                merged[c - 1] = True
        lines.append((r, cells, merged))
    return lines, f"Excel 工作表“{ws.title}”，合并单元格已展开"


# --- corrections --------------------------------------------------------------------------------------

@dataclass
class Correction:
    seq: str
    field: str          # city | name | code | drop
    original: str
    corrected: str
    reason: str


def read_corrections(path) -> list[Correction]:
    data = Path(path).read_bytes()
    text, _enc = _decode(data, Path(path).name)
    out = []
    for rec in csv.DictReader(io.StringIO(text)):
        if not (rec.get("seq") or "").strip() or rec["seq"].startswith("#"):
            continue
        out.append(Correction(rec["seq"].strip(), rec["field"].strip(), (rec.get("original") or "").strip(),
                              (rec.get("corrected") or "").strip(), (rec.get("reason") or "").strip()))
    return out


def apply_corrections(rows: list[RawRow], corrections: list[Correction]) -> tuple[list[RawRow], list[str]]:
    notes, by_seq = [], {}
    for row in rows:
        by_seq.setdefault(row.seq, []).append(row)
    dropped = set()
    for c in corrections:
        targets = [r for r in by_seq.get(c.seq, []) if c.field == "drop" or getattr(r, c.field) == c.original]
        if c.field == "drop":
            targets = [r for r in targets if not c.original or r.code == c.original]
        if not targets:
            notes.append(f"更正未应用：序号{c.seq} 的“{c.field}”不是“{c.original}”（表格已改过或更正文件有误）")
            continue
        for row in targets:
            if c.field == "drop":
                dropped.add(id(row))
                notes.append(f"更正：{row.describe()} 按更正文件删去。理由：{c.reason}")
            else:
                setattr(row, c.field, c.corrected)
                if c.field == "city":
                    row.city_source = "cell"
                notes.append(f"更正：序号{c.seq} 的{_FIELD_NAMES.get(c.field, c.field)}“{c.original}”改为"
                             f"“{c.corrected}”。理由：{c.reason}")
    return [r for r in rows if id(r) not in dropped], notes


_FIELD_NAMES = {"city": "市县", "name": "审批主体名称", "code": "用户名"}


# --- analysis --------------------------------------------------------------------------------------

@dataclass
class Plan:
    """What an import would do, and the report explaining it."""

    source: str
    rows: list
    bureaus: dict = field(default_factory=dict)       # code -> values
    filled: list = field(default_factory=list)        # (row, city, note)
    merged: list = field(default_factory=list)        # rows whose city came from a merged cell
    exact_duplicates: list = field(default_factory=list)   # (row, first row)
    listed_twice: list = field(default_factory=list)       # (code, [rows], kept row)
    conflicts: dict = field(default_factory=dict)           # code -> [rows]
    rejected: list = field(default_factory=list)            # (row, reason)
    warnings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    reading: list = field(default_factory=list)
    corrections: list = field(default_factory=list)


def _same_bureau(a: str, b: str) -> bool:
    collapse = lambda s: re.sub(r"(.)\1+", r"\1", s)
    return a == b or collapse(a) == collapse(b)


def _city_of_cell(text: str) -> str:
    text = text.strip()
    for suffix in ("市", "地区"):
        if text.endswith(suffix) and text[:-len(suffix)] in CITY_BY_PREFIX.values():
            return text[:-len(suffix)]
    return text


def seed_hosts() -> dict:
    """Host codes of development zones from the seed table: by code and by zone (first 6 characters)."""
    hosts = {}
    for row in seed_rows():
        if row.get("host_code") and "G" in row["code"]:
            hosts[row["code"]] = row["host_code"]
            hosts.setdefault(row["code"][:6], row["host_code"])
    return hosts


def analyse(rows: list[RawRow], source: str, hosts: dict | None = None) -> Plan:
    plan = Plan(source=source, rows=rows)
    hosts = seed_hosts() if hosts is None else hosts

    # 1. codes
    valid = []
    for row in rows:
        if not CODE_PATTERN.match(row.code):
            plan.rejected.append((row, f"用户名“{row.code}”不符合格式（8位：4位数字，再2位数字或G加1位数字，再2位数字）"))
        elif row.code[:4] not in CITY_BY_PREFIX:
            plan.rejected.append((row, f"用户名“{row.code}”不属于河南省的地市（前4位{row.code[:4]}）"))
        else:
            valid.append(row)

    # 2. cities: from the code; blank cells filled, filled cells checked
    previous_city = None
    for row in rows:
        if row not in valid:
            previous_city = _city_of_cell(row.city) or previous_city
            continue
        expected = CITY_BY_PREFIX[row.code[:4]]
        cell = _city_of_cell(row.city)
        if row.city_source == "blank":
            row.city = expected
            note = ""
            if previous_city and previous_city != expected:
                note = f"上一行属“{previous_city}”，不能照抄上一行"
            plan.filled.append((row, expected, note))
        else:
            if row.city_source == "merged":
                plan.merged.append(row)
            direct = DIRECT.get(cell)
            if cell == expected:
                pass
            elif direct and direct[0] == row.code[:4]:
                pass                  # directly administered, listed under its own name
            else:
                shown = cell or row.city
                plan.warnings.append(f"{row.describe()}：市县栏为“{shown}”，但用户名前4位{row.code[:4]}属“{expected}”；"
                                     f"按用户名记为“{expected}”，请核对")
                row.city = expected
                cell = expected
            row.city = cell
        previous_city = row.city

    # 3. duplicates and conflicts
    by_code: dict[str, list[RawRow]] = {}
    for row in valid:
        by_code.setdefault(row.code, []).append(row)
    keep: dict[str, RawRow] = {}
    for code, group in by_code.items():
        distinct = []
        for row in group:
            twin = next((d for d in distinct if (d.name, d.city) == (row.name, row.city)
                         and d.city_source == row.city_source), None)
            if twin is not None:
                plan.exact_duplicates.append((row, twin))
            else:
                distinct.append(row)
        if len(distinct) == 1:
            keep[code] = distinct[0]
            continue
        if all(_same_bureau(distinct[0].name, d.name) for d in distinct[1:]):
            chosen = next((d for d in reversed(distinct) if d.city in DIRECT), distinct[-1])
            plan.listed_twice.append((code, distinct, chosen))
            keep[code] = chosen
        else:
            plan.conflicts[code] = distinct

    # 4. values of each bureau
    for code, row in keep.items():
        plan.bureaus[code] = _values(row, hosts, plan)
    direct = [r for r in keep.values() if r.city in DIRECT and r.city != CITY_BY_PREFIX[r.code[:4]]]
    if direct:
        plan.notes.append("省直管的县（市）、区按自身名称列出，用户名沿用所在地市的前4位，属正常："
                          + "、".join(f"{r.label}{r.city}（{r.code}）" for r in direct))
    names: dict[str, list[str]] = {}
    for code, values in plan.bureaus.items():
        names.setdefault(values["name"], []).append(code)
    for name, codes in names.items():
        if len(codes) > 1:
            plan.warnings.append(f"审批主体“{name}”对应多个用户名：{'、'.join(codes)}；均已导入，请核对")
    return plan


def _values(row: RawRow, hosts: dict, plan: Plan) -> dict:
    code = row.code
    prefix = code[:4]
    parent = CITY_CODE[prefix]
    city = row.city
    if "G" in code:
        host = hosts.get(code) or hosts.get(code[:6])
        if not host:
            plan.warnings.append(f"{row.describe()}：开发区用户名，未配置宿主区划代码（证书编号用的6位代码），"
                                 f"须在 seeds/bureaus.csv 的 host_code 列补上后才能发证")
        return dict(code=code, name=row.name, city=city, division_code=parent, host_code=host or None,
                    parent_city_code=parent)
    division = code[:6]
    if division in RENAMED:
        new, why = RENAMED[division]
        plan.notes.append(f"{row.describe()}：{why}；用户名不变，证书编号使用{new}")
        division = new
    return dict(code=code, name=row.name, city=city, division_code=division, host_code=None,
                parent_city_code=parent)


# --- applying ------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    added: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    accounts: list = field(default_factory=list)


COLUMNS = ("name", "city", "division_code", "host_code", "parent_city_code")


def apply_plan(plan: Plan, dry_run: bool = False) -> Outcome:
    """Write the plan's bureaus and their accounts (nothing when ``dry_run``); the caller commits."""
    from . import accounts, audit
    sm = current_app.appbuilder.sm
    out = Outcome()
    for code, values in sorted(plan.bureaus.items()):
        bureau = db.session.get(Bureau, code)
        if bureau is None:
            out.added.append(code)
            if not dry_run:
                bureau = Bureau(code=code, **{k: values[k] for k in COLUMNS})
                db.session.add(bureau)
                db.session.flush()
                audit.record("bureau.create", obj_type="bureau", obj_id=code, obj_bureau=code,
                             after={k: values[k] for k in COLUMNS})
        else:
            changed = {k: values[k] for k in COLUMNS if getattr(bureau, k) != values[k]}
            if changed:
                out.updated.append(code)
                if not dry_run:
                    before = {k: getattr(bureau, k) for k in changed}
                    for k, v in changed.items():
                        setattr(bureau, k, v)
                    audit.record("bureau.update", obj_type="bureau", obj_id=code, obj_bureau=code,
                                 before=before, after=changed)
            else:
                out.unchanged.append(code)
        if sm.find_user(username=code) is None:
            out.accounts.append(code)
            if not dry_run:
                accounts.ensure_bureau_account(sm, bureau)
    return out


# --- the report ------------------------------------------------------------------------------------

def _ranges(rows):
    """Group consecutive rows: [(first, last)]."""
    groups = []
    for row in rows:
        if groups and row.seq.isdigit() and groups[-1][-1].seq.isdigit() \
                and int(row.seq) == int(groups[-1][-1].seq) + 1:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def report(plan: Plan, outcome: Outcome | None = None, dry_run: bool = False) -> list[str]:
    lines = [f"读取：{plan.source}，数据行 {len(plan.rows)} 行"]
    lines += [f"  {p}" for p in plan.reading]
    if plan.corrections:
        lines.append(f"更正文件（{len(plan.corrections)} 条）：")
        lines += [f"  {n}" for n in plan.corrections]

    lines.append(f"一、市县栏空白、按用户名补全的行（{len(plan.filled)} 行）：")
    entries, by_city = [], {}
    for row, city, note in plan.filled:
        if note:
            entries.append((row, f"  {row.describe()}：补为“{city}”（{note}）"))
        else:
            by_city.setdefault(city, []).append(row)
    for city, rows in by_city.items():
        for group in _ranges(rows):
            first, last = group[0], group[-1]
            span = first.label if first is last else f"{first.label}—{last.seq if last.seq else last.line}"
            entries.append((first, f"  {span}（{len(group)} 行）：补为“{city}”"))
    entries.sort(key=lambda e: e[0].line)
    lines += [text for _row, text in entries]
    if plan.merged:
        lines.append(f"  另有 {len(plan.merged)} 行的市县取自合并单元格，均已与用户名核对")

    lines.append(f"二、完全重复的行（只导入一次）（{len(plan.exact_duplicates)} 处）：")
    for row, first in plan.exact_duplicates:
        lines.append(f"  {row.describe()} 与 {first.label} 完全相同，只导入一次")

    lines.append(f"三、同一审批主体重复列出（只导入一次）（{len(plan.listed_twice)} 处）：")
    for code, rows, chosen in plan.listed_twice:
        listing = "；".join(f"{r.label}：{r.city}／{r.name}" for r in rows)
        lines.append(f"  用户名 {code} 出现 {len(rows)} 次（{listing}），按 {chosen.label}"
                     f"（{chosen.city}／{chosen.name}）导入一个账户")

    lines.append(f"四、用户名冲突：同一用户名分给了不同审批主体，未导入、未建账户（{len(plan.conflicts)} 个）：")
    for code, rows in plan.conflicts.items():
        listing = "；".join(r.describe() for r in rows)
        lines.append(f"  用户名 {code}：{listing}")
        lines.append("    处理办法：向省厅核实后，在更正文件（--corrections，格式见 seeds/corrections.csv）"
                     "中为其中一行改正用户名，或直接改正表格后重新导入")

    lines.append(f"五、用户名格式错误或不属本省，已拒绝（{len(plan.rejected)} 行）：")
    for row, reason in plan.rejected:
        lines.append(f"  {row.describe()}：{reason}")

    lines.append(f"六、需要核对的警告（{len(plan.warnings)} 条）：")
    lines += [f"  {w}" for w in plan.warnings]
    lines.append(f"七、区划代码说明（{len(plan.notes)} 条）：")
    lines += [f"  {n}" for n in plan.notes]

    if outcome is not None:
        head = "八、试运行结果（--dry-run，未写入数据库）：" if dry_run else "八、导入结果："
        verb = "将" if dry_run else "已"
        lines.append(head)
        lines.append(f"  审批主体：{verb}新增 {len(outcome.added)} 个，{verb}更新 {len(outcome.updated)} 个，"
                     f"无变化 {len(outcome.unchanged)} 个")
        lines.append(f"  账户：{verb}新建 {len(outcome.accounts)} 个（用户名与初始密码均为用户名代码，首次登录须修改密码）")
        if plan.conflicts:
            lines.append(f"  未导入的冲突用户名：{'、'.join(plan.conflicts)}")
        if outcome.updated:
            lines.append(f"  更新的审批主体：{'、'.join(outcome.updated)}")
    return lines


def import_file(path, dry_run: bool = False, corrections=None) -> list[str]:
    rows, reading, source = read_table(path)
    notes = []
    if corrections:
        rows, notes = apply_corrections(rows, read_corrections(corrections))
    plan = analyse(rows, source)
    plan.reading, plan.corrections = reading, notes
    from . import audit
    with audit.acting_as("import-bureaus", "job"):
        outcome = apply_plan(plan, dry_run=dry_run)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    return report(plan, outcome, dry_run=dry_run)


@click.command("import-bureaus")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Only report; write nothing.")
@click.option("--corrections", type=click.Path(exists=True, dir_okay=False),
              help="CSV of corrections (seq,field,original,corrected,reason) applied before the analysis.")
@with_appcontext
def import_bureaus_command(file, dry_run, corrections):
    """Import the province's table of bureau accounts (.txt as printed, .xlsx or .csv) and report."""
    try:
        lines = import_file(file, dry_run=dry_run, corrections=corrections)
    except ReadError as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)


# --- the clean seed -------------------------------------------------------------------------------

def seed_rows() -> list[dict]:
    text = resources.files("seeds").joinpath("bureaus.csv").read_text(encoding="utf-8")
    return [dict(r) for r in csv.DictReader(io.StringIO(text)) if not r["code"].startswith("#")]


def load_seed() -> list[str]:
    """Load ``seeds/bureaus.csv`` and create each bureau's account (``permits init``). Idempotent.

    The whole load is one audit record (``bureau.seed``) naming every bureau
    added or changed and every account created.
    """
    from . import accounts, audit
    sm = current_app.appbuilder.sm
    added, updated, created = [], [], []
    for row in seed_rows():
        bureau = db.session.get(Bureau, row["code"])
        values = {k: (row.get(k) or None) for k in COLUMNS}
        if bureau is None:
            bureau = Bureau(code=row["code"], **values)
            db.session.add(bureau)
            db.session.flush()
            added.append(bureau.code)
        elif any(getattr(bureau, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(bureau, k, v)
            updated.append(bureau.code)
        if accounts.ensure_bureau_account(sm, bureau, record=False):
            created.append(bureau.code)
    if added or updated or created:
        audit.record("bureau.seed", obj_type="bureau", obj_id="seeds/bureaus.csv",
                     after={"bureaus_added": added, "bureaus_updated": updated, "accounts_created": created})
    db.session.commit()
    return [f"审批主体：新增 {len(added)} 个，更新 {len(updated)} 个；新建账户 {len(created)} 个"
            f"（用户名与初始密码均为用户名代码，首次登录须修改密码）"]
