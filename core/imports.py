"""Excel round trip (审批信息表格): template, all-or-nothing import, list export.

Everything is derived from the type's declaration:

* :func:`template_workbook` -- a ``.xlsx`` with Chinese headers (``*`` marks
  required columns, units in the header), drop-down lists for choice and
  是/否 columns, text-formatted code/ID columns, date-formatted date columns,
  and a 填写说明 sheet with an example row.
* :func:`read_upload` + :func:`validate` -- every row is checked first with
  the same :meth:`Field.clean` as the form.  Any problem and nothing is
  saved: the report names sheet, row, column, the value given and what is
  wrong, and :func:`marked_workbook` returns the upload with those cells
  marked red and commented.
* :func:`save` -- all rows become drafts in one transaction, each audited
  ``permit.create`` (the same record :func:`core.records.audit_create`
  writes, appended to the chain in one batch) plus one ``import`` record.

Dates are accepted as date cells and as ``2024年3月8日``, ``2024-03-08``,
``2024/3/8`` (``core.registry.parse_date``); ambiguous forms are refused.
Codes and ID numbers that arrive as numbers (leading zeros lost, more than
15 digits turned into a float) are refused with the hint to format the
column as text.  Areas in 亩 or 公顷 for a 平方米 field -- in the cell
(``3亩``) or in the header (``总用地面积（亩）``) -- are converted and the
original kept as an :class:`ImportNote`.  Merged cells count for every cell
they cover.  A CSV with the same columns (UTF-8 or GB18030) is accepted too.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field as dc_field
from decimal import Decimal

from flask import abort, current_app, request, send_file, url_for
from flask_appbuilder import BaseView, Model, expose, has_access
from flask_appbuilder.api import BaseApi, protect
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text, insert, select

from . import audit, roles
from .extensions import db
from .models import STATUS_DRAFT, Bureau, Permit, utcnow
from .registry import AREA_FACTORS, COMMON_NAMES, Choice, Date, Decimal_, Integer as IntegerKind, \
    Text as TextKind, YesNo
from .scope import ROLE_CITY, ROLE_CLERK, current_actor, may_see_bureau

DATA_SHEET = "许可信息"
HELP_SHEET = "填写说明"
OPTIONS_SHEET = "选项"
TEMPLATE_ROWS = 5000          # rows covered by the drop-down lists
FORMATTED_ROWS = 500          # rows whose cells carry the text/date format (the column carries it too)
MAX_ROWS = 20000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SCI = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_UNIT_IN_HEADER = re.compile(r"^(.*?)[（(]\s*([^（）()]+?)\s*[）)]$")


class ImportBatch(Model):
    """One successful upload: which file made which drafts."""

    __tablename__ = "import_batch"
    id = Column(Integer, primary_key=True)
    type_code = Column(String(40), nullable=False)
    bureau_code = Column(String(8), ForeignKey("bureau.code"), nullable=False, index=True)
    filename = Column(String(255), nullable=False)
    sha256 = Column(String(64), nullable=False)
    rows = Column(Integer, nullable=False)
    created_on = Column(DateTime, nullable=False, default=utcnow)
    created_by = Column(String(120), nullable=False)


class ImportNote(Model):
    """What a row said before conversion (e.g. an area given in 亩)."""

    __tablename__ = "import_note"
    id = Column(Integer, primary_key=True)
    batch_id = Column(Integer, ForeignKey("import_batch.id"), nullable=False, index=True)
    permit_id = Column(Integer, ForeignKey("permit.id", ondelete="CASCADE"), nullable=False, index=True)
    field = Column(String(60), nullable=False)
    original = Column(Text, nullable=False)
    converted = Column(Text, nullable=False)


# --- declaration helpers -----------------------------------------------------------------------

def is_code_field(f) -> bool:
    """Codes and ID numbers: text that must never pass through a number."""
    return isinstance(f.kind, TextKind) and (f.personal or f.validate is not None or f.kind.pattern is not None
                                             or f.name.endswith(("_code", "_no", "_number")))


def header_of(f) -> str:
    return ("*" if f.required else "") + f.label_with_unit


def column_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter
    return get_column_letter(i)


def _example(f):
    kind = f.kind
    if f.name == "project_code":
        return "2026-410102-47-03-012345"
    if f.name == "id_number":
        return "410102199001011234"
    if isinstance(kind, Date):
        return "2024年3月8日"
    if isinstance(kind, Choice):
        return kind.options[0] if kind.options else ""
    if isinstance(kind, YesNo):
        return "否"
    if isinstance(kind, IntegerKind):
        return str(max(kind.min or 0, 1) if kind.max is None else min(max(kind.min or 0, 2), kind.max))
    if isinstance(kind, Decimal_):
        if kind.unit == "%":
            return "35.00"
        return "1234.56" if kind.unit != "公顷" else "0.4850"
    if is_code_field(f):
        return "（按原文书编号填写）"
    return f"（{f.label}）"


def _format_note(f) -> str:
    kind = f.kind
    if isinstance(kind, Date):
        return "日期：2024-03-08、2024/3/8 或 2024年3月8日"
    if isinstance(kind, Choice):
        return "从下拉列表选择：" + "、".join(kind.options)
    if isinstance(kind, YesNo):
        return "是 / 否"
    if isinstance(kind, IntegerKind):
        return "整数" + (f"（{kind.unit}）" if kind.unit else "")
    if isinstance(kind, Decimal_):
        text = f"数字，单位{kind.unit}" if kind.unit else "数字"
        if kind.unit in AREA_FACTORS:
            text += "；填“亩”或“公顷”的面积（如 3亩）会自动换算并保留原值"
        return text
    if is_code_field(f):
        return "文本（本列已设为文本格式，请勿改为数字，以免丢失前导零或末位）"
    return f"文本，最多 {kind.max_length} 字"


# --- template ------------------------------------------------------------------------------------

def template_workbook(ptype) -> bytes:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    fields = ptype.all_fields
    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    opts = wb.create_sheet(OPTIONS_SHEET)
    opts.sheet_state = "hidden"
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    req_font = Font(bold=True, color="C00000")
    last = TEMPLATE_ROWS + 1
    opt_col = 0
    for i, f in enumerate(fields, start=1):
        letter = column_letter(i)
        cell = ws.cell(row=1, column=i, value=header_of(f))
        cell.fill = head_fill
        cell.font = req_font if f.required else Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        note = _format_note(f) + (f"\n{f.help}" if f.help else "") + ("\n必填" if f.required else "")
        cell.comment = Comment(note, "填写说明", width=260, height=110)
        ws.column_dimensions[letter].width = max(12, min(40, len(f.label_with_unit) * 2 + 4))
        kind = f.kind
        number_format = None
        if isinstance(kind, TextKind):
            number_format = "@"
        elif isinstance(kind, Date):
            number_format = "yyyy-mm-dd"
        if number_format:
            ws.column_dimensions[letter].number_format = number_format
            for r in range(2, FORMATTED_ROWS + 2):
                ws.cell(row=r, column=i).number_format = number_format
        if isinstance(kind, (Choice, YesNo)):
            options = kind.options if isinstance(kind, Choice) else ("是", "否")
            opt_col += 1
            ol = column_letter(opt_col)
            opts.cell(row=1, column=opt_col, value=f.label)
            for j, o in enumerate(options, start=2):
                opts.cell(row=j, column=opt_col, value=o)
            dv = DataValidation(type="list", formula1=f"'{OPTIONS_SHEET}'!${ol}$2:${ol}${len(options) + 1}",
                                allow_blank=not f.required, showErrorMessage=True,
                                errorTitle="输入有误", error=f"{f.label}：请从下拉列表中选择")
            dv.add(f"{letter}2:{letter}{last}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 32

    info = wb.create_sheet(HELP_SHEET, 0)
    info["A1"] = f"{ptype.name} 审批信息表 · 填写说明"
    info["A1"].font = Font(bold=True, size=14)
    notes = [
        f"1. 在“{DATA_SHEET}”工作表中每行填写一宗业务，第一行是列名，请勿修改或删除。",
        "2. 列名前带 * 的为必填项；列名括号中是单位，只填数字即可。",
        "3. 日期可填 2024-03-08、2024/3/8 或 2024年3月8日；03/08/2024 这类无法确定年月日顺序的写法会被拒收。",
        "4. 编号、代码、身份证号等列已设为文本格式，请勿改为数字（否则前导零或超过15位的数字会丢失）。",
        "5. 上传时逐行校验：只要有一处错误，整张表都不会保存，系统会列出每个错误所在的工作表、行、列，"
        "并可下载标出错误单元格的副本；全部正确时一次保存为草稿。",
        "6. 也可上传同样列名的 CSV 文件（UTF-8 或 GB18030/GBK 编码）。",
    ]
    for r, line in enumerate(notes, start=2):
        info.cell(row=r, column=1, value=line)
    top = len(notes) + 3
    heads = ["列名", "必填", "格式 / 单位", "说明", "示例"]
    for c, h in enumerate(heads, start=1):
        cell = info.cell(row=top, column=c, value=h)
        cell.font = Font(bold=True)
        cell.fill = head_fill
    for r, f in enumerate(fields, start=top + 1):
        info.cell(row=r, column=1, value=header_of(f))
        info.cell(row=r, column=2, value="是" if f.required else "")
        info.cell(row=r, column=3, value=_format_note(f))
        info.cell(row=r, column=4, value=f.help)
        info.cell(row=r, column=5, value=_example(f)).number_format = "@"
    ex = top + len(fields) + 2
    info.cell(row=ex, column=1, value="示例行（照此格式填写到“许可信息”工作表）：").font = Font(bold=True)
    for i, f in enumerate(fields, start=1):
        info.cell(row=ex + 1, column=i, value=header_of(f)).font = Font(bold=True)
        info.cell(row=ex + 2, column=i, value=_example(f)).number_format = "@"
    for letter, width in zip("ABCDE", (28, 6, 50, 50, 30)):
        info.column_dimensions[letter].width = width
    wb.active = 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- reading ------------------------------------------------------------------------------------------

@dataclass
class Problem:
    sheet: str
    row: int
    column: str          # letter
    header: str
    value: str
    message: str

    def as_dict(self):
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "header": self.header,
                "value": self.value, "message": self.message}


@dataclass
class Sheet:
    name: str
    rows: list              # [(row number, [cell values])]
    header: list            # header texts (row 1)


@dataclass
class Outcome:
    rows: list = dc_field(default_factory=list)          # [(sheet, row, values, notes)]
    problems: list = dc_field(default_factory=list)
    ignored_columns: list = dc_field(default_factory=list)
    sheets: int = 0


class UnreadableFile(ValueError):
    pass


def _merged_ranges(ws) -> list:
    """Merged ranges of a read-only worksheet (openpyxl does not parse them in that mode)."""
    from openpyxl.utils.cell import range_boundaries
    try:
        with ws.parent._archive.open(ws._worksheet_path) as fh:
            data = fh.read()
    except (AttributeError, KeyError):
        return []
    tail = data[data.rfind(b"</sheetData>"):] if b"</sheetData>" in data else data
    return [range_boundaries(ref.decode()) for ref in re.findall(rb'<(?:\w+:)?mergeCell ref="([^"]+)"', tail)]


def read_xlsx(content: bytes) -> list[Sheet]:
    from openpyxl import load_workbook
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise UnreadableFile(_("The file is not a readable .xlsx workbook")) from exc
    sheets = []
    try:
        for ws in wb.worksheets:
            if ws.title in (HELP_SHEET, OPTIONS_SHEET):
                continue
            merged = _merged_ranges(ws)
            fill_from = {}      # (row, col) -> top-left (row, col)
            for min_col, min_row, max_col, max_row in merged:
                for r in range(min_row, max_row + 1):
                    for c in range(min_col, max_col + 1):
                        if (r, c) != (min_row, min_col):
                            fill_from[(r, c)] = (min_row, min_col)
            tops = {v for v in fill_from.values()}
            top_values = {}
            rows = []
            header = None
            for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
                values = list(values)
                if header is not None and not any(v is not None and not (isinstance(v, str) and not v.strip())
                                                  for v in values):
                    continue        # a blank row stays blank even where a merged range covers it
                if fill_from:
                    for c, v in enumerate(values, start=1):
                        if (r, c) in tops:
                            top_values[(r, c)] = v
                    for (fr, fc), src in fill_from.items():
                        if fr == r:
                            while len(values) < fc:
                                values.append(None)
                            if values[fc - 1] is None:
                                values[fc - 1] = top_values.get(src)
                if header is None:
                    if any(v not in (None, "") for v in values):
                        header = ["" if v is None else str(v).strip() for v in values]
                        header_row = r
                    continue
                rows.append((r, values))
            if header is not None:
                sheets.append(Sheet(ws.title, rows, header))
                sheets[-1].header_row = header_row
    finally:
        wb.close()
    return sheets


def decode_csv(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(_("The CSV file is neither UTF-8 nor GB18030 (GBK) text"))


def read_csv(content: bytes, name="CSV") -> list[Sheet]:
    text = decode_csv(content)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    header = None
    for r, values in enumerate(reader, start=1):
        if header is None:
            if any(v.strip() for v in values):
                header = [v.strip() for v in values]
                header_row = r
            continue
        rows.append((r, values))
    if header is None:
        return []
    sheet = Sheet(name, rows, header)
    sheet.header_row = header_row
    return [sheet]


def read_upload(filename: str, content: bytes) -> tuple[list[Sheet], str]:
    """(sheets, kind) of an uploaded file, decided by content (xlsx is a zip) and name."""
    if content[:4] == b"PK\x03\x04":
        return read_xlsx(content), "xlsx"
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UnreadableFile(_("Old .xls workbooks are not accepted; save the file as .xlsx and upload again"))
    if filename.lower().endswith((".csv", ".txt")) or b"\x00" not in content[:4096]:
        return read_csv(content, os.path.splitext(os.path.basename(filename))[0] or "CSV"), "csv"
    raise UnreadableFile(_("Upload the filled template as .xlsx or .csv"))


# --- validation ----------------------------------------------------------------------------------------

def _norm_header(text: str) -> str:
    return re.sub(r"\s+", "", str(text)).lstrip("*＊").replace("(", "（").replace(")", "）")


def _map_columns(ptype, header):
    """{column index: (field, header unit or None)}, missing required fields, ignored headers."""
    by_label = {}
    for f in ptype.all_fields:
        by_label[_norm_header(f.label_with_unit)] = (f, None)
        by_label.setdefault(_norm_header(f.label), (f, None))
    mapping, ignored, seen = {}, [], set()
    for i, raw in enumerate(header):
        text = _norm_header(raw)
        if not text:
            continue
        hit = by_label.get(text)
        if hit is None:
            m = _UNIT_IN_HEADER.match(text)
            if m and m.group(1) in by_label and m.group(2) in AREA_FACTORS:
                f = by_label[m.group(1)][0]
                if isinstance(f.kind, Decimal_) and f.kind.unit in AREA_FACTORS:
                    hit = (f, m.group(2))
        if hit is None or hit[0].name in seen:
            ignored.append(str(raw))
            continue
        seen.add(hit[0].name)
        mapping[i] = hit
    missing = [f for f in ptype.all_fields if f.required and f.name not in seen]
    return mapping, missing, ignored


def _show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _text_hint(f):
    return _("%(label)s arrived as a number, so leading zeros or digits may have been lost: format the column "
             "as text (the template already does) and type the value again", label=f.label)


def clean_cell(f, unit, value):
    """(clean value, note or None) of one cell, or raise ValueError with a message naming the field."""
    from .registry import FieldError
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            value = None
    kind = f.kind
    note = None
    if value is not None and isinstance(kind, TextKind):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if is_code_field(f):
                raise ValueError(_text_hint(f))
            value = _show(value)
        elif isinstance(value, str) and is_code_field(f) and _SCI.match(value):
            raise ValueError(_text_hint(f))
        elif isinstance(value, dt.datetime):
            value = _show(value)
    elif value is not None and isinstance(kind, Decimal_) and kind.unit in AREA_FACTORS:
        text = _show(value) if not isinstance(value, str) else value
        if unit and unit != kind.unit and not any(text.endswith(u) for u in AREA_FACTORS):
            text = text + unit
        given = next((u for u in sorted(AREA_FACTORS, key=len, reverse=True) if text.endswith(u)), None)
        if given and AREA_FACTORS[given] != AREA_FACTORS[kind.unit]:
            note = text
        value = text
    elif isinstance(value, float) and isinstance(kind, Decimal_):
        value = Decimal(repr(value))
    try:
        clean = f.clean(value)
    except FieldError as exc:
        raise ValueError(exc.message) from None
    if note is not None:
        note = (note, f"{kind.to_text(clean)}{kind.unit}")
    return clean, note


def validate(ptype, sheets: list[Sheet]) -> Outcome:
    out = Outcome()
    fields = ptype.all_fields
    for sheet in sheets:
        mapping, missing, ignored = _map_columns(ptype, sheet.header)
        if not mapping:
            continue
        out.sheets += 1
        out.ignored_columns += [f"{sheet.name}：{h}" for h in ignored]
        hrow = getattr(sheet, "header_row", 1)
        for f in missing:
            out.problems.append(Problem(sheet.name, hrow, "", header_of(f), "",
                                        _("The required column %(label)s is missing", label=f.label_with_unit)))
        present = {m[0].name for m in mapping.values()}
        absent_required = [f for f in fields if f.required and f.name not in present]
        items = list(mapping.items())
        for rnum, values in sheet.rows:
            if not any(v not in (None, "") and not (isinstance(v, str) and not v.strip()) for v in values):
                continue
            row_values, row_notes = {}, {}
            for i, (f, unit) in items:
                value = values[i] if i < len(values) else None
                try:
                    clean, note = clean_cell(f, unit, value)
                except ValueError as exc:
                    out.problems.append(Problem(sheet.name, rnum, column_letter(i + 1), sheet.header[i],
                                                _show(value), str(exc)))
                    continue
                row_values[f.name] = clean
                if note:
                    row_notes[f.name] = note
            if absent_required:
                continue
            out.rows.append((sheet.name, rnum, row_values, row_notes))
        if len(out.rows) > MAX_ROWS:
            out.problems.append(Problem(sheet.name, 0, "", "", "", _("At most %(n)s rows per upload", n=MAX_ROWS)))
            break
    if out.sheets == 0:
        out.problems.append(Problem("", 1, "", "", "", _("No sheet has the columns of the %(name)s template; "
                                                          "download the template and fill it in", name=ptype.name)))
    elif not out.rows and not out.problems:
        out.problems.append(Problem("", 0, "", "", "", _("The file has no rows to import")))
    return out


# --- marked copy of a refused upload ---------------------------------------------------------------

def marked_workbook(content: bytes, kind: str, sheets: list[Sheet], problems: list[Problem]) -> bytes:
    from openpyxl import Workbook, load_workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import column_index_from_string
    if kind == "xlsx":
        wb = load_workbook(io.BytesIO(content))
    else:
        wb = Workbook()
        ws = wb.active
        ws.title = sheets[0].name[:31] if sheets else "CSV"
        if sheets:
            ws.append(sheets[0].header)
            for rnum, values in sheets[0].rows:
                for c, v in enumerate(values, start=1):
                    ws.cell(row=rnum, column=c, value=v).number_format = "@"
    bad = PatternFill("solid", fgColor="FFC7CE")
    by_cell: dict = {}
    for p in problems:
        if not p.sheet or p.sheet not in wb.sheetnames:
            continue
        ws = wb[p.sheet]
        col = column_index_from_string(p.column) if p.column else 1
        by_cell.setdefault((p.sheet, max(p.row, 1), col), []).append(p.message)
    for (sheet, row, col), messages in by_cell.items():
        cell = wb[sheet].cell(row=row, column=col)
        if type(cell).__name__ == "MergedCell":
            continue
        cell.fill = bad
        cell.font = Font(color="9C0006", bold=True)
        cell.comment = Comment("\n".join(messages), "系统校验", width=300, height=120)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _report_dir() -> str:
    path = os.path.join(current_app.instance_path, "import_reports")
    os.makedirs(path, exist_ok=True)
    return path


def keep_report(data: bytes, filename: str, ptype) -> str:
    """Store the marked copy for its uploader; returns its token.  Old copies (7 days) are removed."""
    folder = _report_dir()
    cutoff = time.time() - 7 * 86400
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.getmtime(path) < cutoff:
            os.remove(path)
    token = secrets.token_hex(16)
    with open(os.path.join(folder, token + ".xlsx"), "wb") as fh:
        fh.write(data)
    with open(os.path.join(folder, token + ".json"), "w", encoding="utf-8") as fh:
        json.dump({"user": audit.current_actor_identity()[0], "type": ptype.code,
                   "filename": filename}, fh, ensure_ascii=False)
    return token


def report_file(token: str):
    """(path, download name) of a stored marked copy the current user may fetch, or None."""
    if not re.fullmatch(r"[0-9a-f]{32}", token or ""):
        return None
    folder = _report_dir()
    meta_path = os.path.join(folder, token + ".json")
    if not os.path.exists(meta_path):
        return None
    with open(meta_path, encoding="utf-8") as fh:
        meta = json.load(fh)
    if meta.get("user") != audit.current_actor_identity()[0]:
        return None
    stem = os.path.splitext(meta.get("filename") or "导入")[0]
    return os.path.join(folder, token + ".xlsx"), f"{stem}_错误标注.xlsx"


# --- saving ---------------------------------------------------------------------------------------

def save(ptype, outcome: Outcome, bureau_code: str, filename: str, sha256: str) -> ImportBatch:
    """Create every row as a draft in the current transaction and commit; all or nothing."""
    state = current_app.extensions["permits"]
    model = state.models[ptype.code]
    base = Permit.__table__
    detail = model.__table__
    actor = current_actor()
    uid = getattr(actor, "id", None)
    now = utcnow()
    fields = ptype.all_fields
    own = [f.name for f in ptype.fields]
    common_rows = []
    for _sheet, _r, values, _notes in outcome.rows:
        row = {name: values.get(name) for name in COMMON_NAMES}
        row.update(type_code=ptype.code, status=STATUS_DRAFT, bureau_code=bureau_code, trial=False, version=1,
                   created_on=now, changed_on=now, created_by_fk=uid, changed_by_fk=uid)
        common_rows.append(row)
    try:
        batch = ImportBatch(type_code=ptype.code, bureau_code=bureau_code, filename=filename[:255], sha256=sha256,
                            rows=len(common_rows), created_by=audit.current_actor_identity()[0])
        db.session.add(batch)
        db.session.flush()
        ids = db.session.execute(insert(base).returning(base.c.id, sort_by_parameter_order=True),
                                 common_rows).scalars().all()
        detail_rows = []
        note_rows = []
        entries = []
        reason = f"import #{batch.id}"
        for pid, (_sheet, _r, values, notes) in zip(ids, outcome.rows):
            drow = {name: values.get(name) for name in own}
            drow["id"] = pid
            detail_rows.append(drow)
            for name, (original, converted) in notes.items():
                note_rows.append({"batch_id": batch.id, "permit_id": pid, "field": name, "original": original,
                                  "converted": converted})
            entries.append({"action": "permit.create", "obj_type": ptype.code, "obj_id": pid,
                            "obj_bureau": bureau_code, "reason": reason,
                            "after": {f.name: f.display(values.get(f.name)) for f in fields}})
        if detail_rows:
            db.session.execute(insert(detail), detail_rows)
        if note_rows:
            db.session.execute(insert(ImportNote.__table__), note_rows)
        audit.record_many(entries)
        audit.record("import", obj_type=ptype.code, obj_id=batch.id, obj_bureau=bureau_code,
                     after={"filename": filename, "sha256": sha256, "rows": len(ids),
                            "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return batch


@dataclass
class ImportResult:
    ok: bool
    created: int = 0
    batch_id: int | None = None
    problems: list = dc_field(default_factory=list)
    notes: int = 0
    ignored_columns: list = dc_field(default_factory=list)
    report_token: str | None = None
    message: str = ""

    def as_dict(self, report_url=None):
        out = {"ok": self.ok, "created": self.created, "batch_id": self.batch_id, "message": self.message,
               "errors": [p.as_dict() for p in self.problems], "converted_values": self.notes,
               "ignored_columns": self.ignored_columns}
        if report_url:
            out["marked_workbook"] = report_url
        return out


def run_import(ptype, filename: str, content: bytes, bureau_code: str) -> ImportResult:
    """Read, validate and (when every row is right) save an upload."""
    sha = hashlib.sha256(content).hexdigest()
    limit_mb = int(current_app.config.get("PERMITS_MAX_UPLOAD_MB", 50))
    if len(content) > limit_mb << 20:
        message = _("The file is larger than %(mb)s MB", mb=limit_mb)
        return ImportResult(False, problems=[Problem("", 0, "", "", filename, message)], message=message)
    try:
        sheets, kind = read_upload(filename, content)
    except UnreadableFile as exc:
        return ImportResult(False, problems=[Problem("", 0, "", "", filename, str(exc))], message=str(exc))
    outcome = validate(ptype, sheets)
    if outcome.problems:
        try:
            marked = marked_workbook(content, kind, sheets, outcome.problems)
            token = keep_report(marked, filename, ptype)
        except Exception:  # the report copy is a convenience; the list of problems is the answer
            current_app.logger.exception("could not mark the refused workbook")
            token = None
        return ImportResult(False, problems=outcome.problems, ignored_columns=outcome.ignored_columns,
                            report_token=token,
                            message=_("%(n)s problems found; nothing was saved", n=len(outcome.problems)))
    batch = save(ptype, outcome, bureau_code, filename, sha)
    notes = sum(len(r[3]) for r in outcome.rows)
    return ImportResult(True, created=batch.rows, batch_id=batch.id, notes=notes,
                        ignored_columns=outcome.ignored_columns,
                        message=_("%(n)s drafts created", n=batch.rows))


def import_bureau(form_value=None):
    """The bureau of imported records: the clerk's own, or (province/city) one they may see."""
    user = current_actor()
    own = getattr(user, "bureau_code", None)
    if own:
        return own, None
    if form_value and may_see_bureau(form_value, user):
        return form_value, None
    return None, _("Choose the issuing bureau")


# --- export -------------------------------------------------------------------------------------------

def export_workbook(ptype, items) -> bytes:
    """The given permits as .xlsx; personal fields masked exactly as in the list."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from .models import STATUSES
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(ptype.name[:31])
    fields = ptype.all_fields
    heads = ["证书编号", "状态", "审批主体", "发证日期"] + [f.label_with_unit for f in fields]
    from openpyxl.cell import WriteOnlyCell
    ws.append([_bold(ws, h, Font) for h in heads])
    for item in items:
        row = [item.number or "", STATUSES.get(item.status, item.status),
               item.bureau.name if item.bureau else item.bureau_code,
               item.issued_on.isoformat() if item.issued_on else ""]
        for f in fields:
            value = getattr(item, f.name, None)
            if value is None:
                row.append(None)
            elif f.personal or isinstance(f.kind, (TextKind, Choice, YesNo, Date)):
                cell = WriteOnlyCell(ws, value=f.display(value))
                cell.number_format = "@"
                row.append(cell)
            else:
                row.append(float(value) if isinstance(value, Decimal) else value)
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _bold(ws, text, Font):
    from openpyxl.cell import WriteOnlyCell
    cell = WriteOnlyCell(ws, value=text)
    cell.font = Font(bold=True)
    return cell


def export_items(ptype):
    """The records the list page would show with the current request's filters (all pages)."""
    from flask_appbuilder.urltools import get_filter_args, get_order_args
    state = current_app.extensions["permits"]
    view_cls = state.views[ptype.code]
    view = next((v for v in current_app.appbuilder.baseviews if isinstance(v, view_cls)), None)
    if view is None:
        abort(404)
    filters = view.datamodel.get_filters(view.search_columns)
    get_filter_args(filters)
    order_column, order_direction = get_order_args().get(view_cls.__name__, ("", ""))
    if not order_column and view.base_order:
        order_column, order_direction = view.base_order
    _count, items = view.datamodel.query(filters.get_joined_filters(view._base_filters), order_column,
                                         order_direction, page=None, page_size=None)
    return items


def _xlsx_response(data: bytes, filename: str):
    from .attachments import content_disposition
    resp = send_file(io.BytesIO(data), mimetype=XLSX_MIME, as_attachment=False, max_age=0)
    resp.headers["Content-Disposition"] = content_disposition(filename)
    return resp


# --- pages --------------------------------------------------------------------------------------------

def _ptype_or_404(code):
    ptype = current_app.extensions["permits"].registry.get(code)
    if ptype is None:
        abort(404)
    return ptype


def _may(permission, code) -> bool:
    return current_app.appbuilder.sm.has_access(permission, code)


class ImportView(BaseView):
    """信息填报 · Excel: template download, upload with report, marked copy, list export."""

    route_base = "/filing"
    class_permission_name = "filing"
    method_permission_name = {"index": "import", "template": "import", "upload": "import", "report": "import",
                              "export": "export"}
    default_view = "index"

    def _types(self):
        from . import toggles
        return [t for t in current_app.extensions["permits"].registry
                if toggles.is_enabled(t.code) and _may("can_add", t.code)]

    def _bureaus(self):
        user = current_actor()
        if getattr(user, "bureau_code", None):
            return []
        from .scope import restrict
        return list(db.session.scalars(restrict(select(Bureau).order_by(Bureau.code), Bureau)))

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("filing/import.html", types=self._types(), bureaus=self._bureaus(),
                                    result=None, title=_("Excel filing"), chosen=request.args.get("type"))

    @expose("/<code>/template.xlsx")
    @has_access
    def template(self, code):
        from . import toggles
        ptype = _ptype_or_404(code)
        if not _may("can_list", code) or not toggles.is_enabled(code):
            abort(403)
        return _xlsx_response(template_workbook(ptype), f"{ptype.name}审批信息表.xlsx")

    @expose("/upload", methods=["POST"])
    @has_access
    def upload(self):
        from . import toggles
        code = request.form.get("type", "")
        ptype = _ptype_or_404(code)
        if not _may("can_add", code) or not toggles.is_enabled(code):
            abort(403)
        result = None
        upload_file = request.files.get("file")
        bureau, error = import_bureau(request.form.get("bureau_code"))
        if error:
            result = ImportResult(False, message=error)
        elif upload_file is None or not upload_file.filename:
            result = ImportResult(False, message=_("Choose a file to upload"))
        else:
            content = upload_file.read()
            result = run_import(ptype, upload_file.filename, content, bureau)
        list_url = None
        view = current_app.extensions["permits"].views.get(code)
        if view is not None:
            list_url = url_for(view.__name__ + ".list")
        return self.render_template("filing/import.html", types=self._types(), bureaus=self._bureaus(),
                                    result=result, ptype=ptype, list_url=list_url, title=_("Excel filing"),
                                    chosen=code), (200 if result.ok else 422)

    @expose("/report/<token>.xlsx")
    @has_access
    def report(self, token):
        found = report_file(token)
        if found is None:
            abort(404)
        path, name = found
        with open(path, "rb") as fh:
            return _xlsx_response(fh.read(), name)

    @expose("/<code>/export.xlsx")
    @has_access
    def export(self, code):
        ptype = _ptype_or_404(code)
        if not _may("can_list", code):
            abort(403)
        items = export_items(ptype)
        audit.record("permit.export", obj_type=code, after={"rows": len(items), "filters": request.query_string.decode()[:500]})
        db.session.commit()
        stamp = dt.datetime.now().strftime("%Y%m%d%H%M")
        return _xlsx_response(export_workbook(ptype, items), f"{ptype.name}_{stamp}.xlsx")


class PermitImportApi(BaseApi):
    """Per type: ``GET …/template.xlsx`` and ``POST …/import`` (subclassed per type by :func:`import_api_class`)."""

    ptype = None
    allow_browser_login = False   # REST by token only
    method_permission_name = {"template": "list", "import_file": "add"}

    @expose("/template.xlsx", methods=["GET"])
    @protect()
    def template(self):
        """The Excel template of this type
        ---
        get:
          summary: 下载本业务类型的 Excel 填报模板
          responses:
            200:
              description: 模板（.xlsx）
              content:
                application/vnd.openxmlformats-officedocument.spreadsheetml.sheet:
                  schema:
                    type: string
                    format: binary
        """
        return _xlsx_response(template_workbook(self.ptype), f"{self.ptype.name}审批信息表.xlsx")

    @expose("/import", methods=["POST"])
    @protect()
    def import_file(self):
        """Import a filled template (all rows or nothing)
        ---
        post:
          summary: 上传填好的模板（.xlsx 或 .csv），全部正确才保存为草稿
          requestBody:
            required: true
            content:
              multipart/form-data:
                schema:
                  type: object
                  properties:
                    file:
                      type: string
                      format: binary
                    bureau_code:
                      type: string
          responses:
            201:
              description: 已保存，created 为新建草稿数
            422:
              description: 有错误，未保存；errors 逐条列出工作表、行、列、所填值和问题
        """
        from . import toggles
        if not toggles.is_enabled(self.ptype.code):
            return self.response(403, message=_("The permit type %(name)s is switched off", name=self.ptype.name))
        bureau, error = import_bureau(request.form.get("bureau_code"))
        if error:
            return self.response(422, **ImportResult(False, message=error,
                                                     problems=[Problem("", 0, "", "bureau_code", "", error)]).as_dict())
        upload_file = request.files.get("file")
        if upload_file is None or not upload_file.filename:
            message = _("Choose a file to upload")
            return self.response(422, **ImportResult(False, message=message,
                                                     problems=[Problem("", 0, "", "file", "", message)]).as_dict())
        result = run_import(self.ptype, upload_file.filename, upload_file.read(), bureau)
        url = url_for("ImportView.report", token=result.report_token) if result.report_token else None
        return self.response(201 if result.ok else 422, **result.as_dict(url))


def import_api_class(ptype):
    name = "".join(p.capitalize() for p in ptype.code.split("_")) + "ImportApi"
    return type(name, (PermitImportApi,), dict(
        ptype=ptype, resource_name=ptype.code, route_base=f"/api/v1/permits/{ptype.code}",
        class_permission_name=ptype.code, openapi_spec_tag=ptype.name))


def notes_of(permit) -> list:
    """(field label, original, converted) of the values converted when ``permit`` was imported."""
    ptype = current_app.extensions["permits"].registry[permit.type_code]
    rows = db.session.scalars(select(ImportNote).where(ImportNote.permit_id == permit.id).order_by(ImportNote.id))
    labels = {f.name: f.label for f in ptype.all_fields}
    return [(labels.get(n.field, n.field), n.original, n.converted) for n in rows]


def endpoint_type(blueprint):
    return current_app.extensions["permits"].endpoint_types.get(blueprint)


roles.EXTRA[ROLE_CLERK] += [("can_import", "filing"), ("can_export", "filing"), ("menu_access", "ExcelFiling"),
                            ("menu_access", "Filing")]
roles.EXTRA[ROLE_CITY] += [("can_export", "filing")]


def install(appbuilder, state) -> None:
    from .views import PermitModelView, register_show_panel
    appbuilder.add_view(ImportView, "ExcelFiling", label=_l("Excel filing"), icon="fa-file-excel-o",
                        category="Filing", category_label=_l("Filing"))
    for ptype in state.registry:
        api = import_api_class(ptype)
        appbuilder.add_api(api)
        state.endpoint_types[api.__name__] = ptype.code
    if PermitModelView.list_template == "appbuilder/general/model/list.html":
        PermitModelView.list_template = "filing/list.html"
    current_app.jinja_env.globals["permit_type_of_endpoint"] = endpoint_type
    current_app.jinja_env.globals["permit_import_notes"] = notes_of
    register_show_panel("filing/import_notes_panel.html")

