"""Demo data for ``permits init --demo``: one or more ISSUED certificates of every type.

Where a real public record of a type exists (``seeds/public_permits_demo.csv``,
collected from published permit notices), the demo permit is built from it,
and its odd formats go through the declaration's own field kinds: areas in
公顷/平方米/㎡ (converted to the declared unit), dates written as
``2025年8月25日``.  Types without a record get realistic examples in the same
style.  Every demo permit says what it is in 附图及附件名称 (演示数据), and
invented ones carry （示例） in their project name.  The records are issued
under Henan bureaus, whatever province the notice came from.

Running it twice changes nothing: a demo permit is recognised by its type,
bureau and project name.
"""
from __future__ import annotations

import csv
import io
import re
from importlib import resources

from flask import current_app
from sqlalchemy import select

from core import numbering, records
from core.extensions import db
from core.registry import parse_date

SOURCE_NOTE = "演示数据：据公开公告整理，非本系统核发的真实许可（原文编号：{ref}）"
EXAMPLE_NOTE = "演示数据：示例，非真实许可"


def public_records() -> list[dict]:
    text = resources.files("seeds").joinpath("public_permits_demo.csv").read_text(encoding="utf-8")
    return [dict(r) for r in csv.DictReader(io.StringIO(text))]


def _first_area(text: str, label: str = "") -> str | None:
    """``占地面积2.2679公顷,其中…`` -> ``2.2679公顷`` (the number with its unit, as written)."""
    m = re.search(re.escape(label) + r"[为:：]?\s*([\d.,]+\s*(?:公顷|平方米|㎡|亩|畝))", text or "")
    return m.group(1) if m else None


def _date(text):
    try:
        return parse_date(text) if text else None
    except ValueError:
        return None


def _by_type(rows, name):
    return [r for r in rows if r["type"] == name]


def demo_specs() -> list[tuple[str, str, dict, object]]:
    """(type code, bureau code, raw field values, issue date or None) of every demo permit."""
    rows = public_records()
    specs = []
    for r in _by_type(rows, "建设项目用地预审与选址意见书"):
        area = r["area_text"]
        values = {
            "project_name": r["project_name"], "holder": r["holder"], "location": r["location"],
            "construction_basis": "国民经济和社会发展规划、国土空间规划及教育设施布局规划",
            "total_area": _first_area(area, "占地面积") or _first_area(area),
            "arable_area": _first_area(area, "其中耕地"), "construction_land_area": _first_area(area, "建设用地"),
            "area_note": area if "其中" in area else "",
            "planned_scale": r["scale_text"],
            "attachments_note": SOURCE_NOTE.format(ref=r["number"]),
        }
        bureau = "41012201" if "郑州" in r["holder"] else "41152801"
        specs.append(("site_selection", bureau, values, _date(r["issue_date_text"])))
    construction_no = None
    for r in _by_type(rows, "建设工程规划许可证"):
        scale = r["scale_text"]
        values = {
            "project_name": r["project_name"], "holder": r["holder"], "location": r["location"],
            "construction_scale": scale, "total_floor_area": _first_area(scale, "总建筑面积"),
            "attachments_note": SOURCE_NOTE.format(ref=r["number"]),
        }
        specs.append(("construction_permit", "41018101", values, _date(r["issue_date_text"])))
        construction_no = True
    for r in _by_type(rows, "规划(土地)核实确认书"):
        values = {
            "project_name": r["project_name"], "holder": "县住房和城乡建设局（示例）",
            "location": "育红街与新华路交叉口东南侧（示例）",
            "construction_permit_no": "",   # filled with the demo construction permit's number
            "survey_unit": "县测绘院（示例）", "survey_date": "2024年12月10日", "buildings": "2栋",
            "above_ground_area": "1250.36㎡", "land_area": "0.8650公顷", "land_conclusion": "符合",
            "conclusion": "经核实，该建设工程的建设位置、建设规模及各项规划指标符合建设工程规划许可要求。",
            "attachments_note": SOURCE_NOTE.format(ref=r["authority"] + "公开公告"),
        }
        specs.append(("verification", "41018101", values, None))
    specs.append(("land_use_permit", "41010201", {
        "project_name": "中原区西流湖片区安置住房项目（示例）", "holder": "郑州市中原区某城建开发有限公司",
        "location": "郑州市中原区西流湖街道，桐柏路以西、陇海路以北",
        "approving_authority": "郑州市人民政府", "approval_doc": "郑政土〔2025〕118号",
        "total_area": "41.26亩", "net_area": "23871.50平方米", "road_green_area": "3635.17㎡",
        "land_use": "二类城镇住宅用地", "acquisition": "划拨",
        "construction_scale": "总建筑面积约9.5万平方米，其中住宅约8.6万平方米，配套公共服务设施约0.9万平方米",
        "attachments_note": EXAMPLE_NOTE,
    }, None))
    specs.append(("rural_permit", "41018101", {
        "project_name": "村民自建住房（示例）", "holder": "王某某",
        "location": "巩义市米河镇小里河村三组",
        "construction_scale": "宅基地面积132平方米，新建两层砖混结构住宅一栋，建筑高度7.2米",
        "floor_area": "198.00㎡", "floors": "2层", "township_issued": "是",
        "attachments_note": EXAMPLE_NOTE,
    }, None))
    if construction_no is None:  # pragma: no cover - the seed file has one
        specs.append(("construction_permit", "41018101", {
            "project_name": "职业技术学校实训楼（示例）", "holder": "巩义市教育局",
            "location": "巩义市紫荆路", "construction_scale": "总建筑面积6500平方米，地上五层",
            "total_floor_area": "6500", "attachments_note": EXAMPLE_NOTE}, None))
    return specs


def load() -> list[str]:
    """Create and issue the demo permits that are not there yet; report what was done."""
    state = current_app.extensions["permits"]
    created, kept, notes = 0, 0, []
    issued_numbers = {}
    for code, bureau, raw, day in demo_specs():
        if code not in state.registry:
            continue
        ptype, model = state.registry[code], state.models[code]
        if code == "verification" and not raw.get("construction_permit_no"):
            raw = dict(raw, construction_permit_no=issued_numbers.get("construction_permit")
                       or _existing_number("construction_permit"))
        existing = db.session.scalar(select(model).where(model.project_name == raw["project_name"],
                                                         model.bureau_code == bureau))
        if existing is not None:
            kept += 1
            if existing.number:
                issued_numbers.setdefault(code, existing.number)
            if existing.status != "draft":
                continue
            permit = existing
        else:
            values, errors = ptype.clean(raw)
            if errors:
                notes.append(f"演示数据 {ptype.name}「{raw['project_name']}」未导入：" + "；".join(errors.values()))
                continue
            permit = records.create(ptype, model, values, bureau, via="demo")
            db.session.commit()
            created += 1
        try:
            issued = numbering.issue_permit(permit, today=day)
        except numbering.IssueError as exc:
            notes.append(f"演示数据 {ptype.name}「{raw['project_name']}」未发证：" + "；".join(exc.messages))
            continue
        issued_numbers.setdefault(code, issued.number)
        notes.append(f"演示证书 {ptype.name}：{issued.number}")
    notes.insert(0, f"演示数据：新增 {created} 件，已存在 {kept} 件")
    return notes


def _existing_number(code):
    from .models import Permit
    return db.session.scalar(select(Permit.number).where(Permit.type_code == code, Permit.number.isnot(None))
                             .order_by(Permit.id).limit(1))
