"""Excel round trip: template from the declaration, all-or-nothing import, marked report, CSV, export."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from conftest import api_token, login
from filing_support import CLERK_PASSWORD, audit_rows, chain_ok, make_user

CP = "construction_permit"


@pytest.fixture
def clerk(app, client):
    make_user(app, "zy_clerk", "41010201")
    login(client, "zy_clerk", CLERK_PASSWORD)
    return client


def get_template(client, code=CP):
    resp = client.get(f"/filing/{code}/template.xlsx")
    assert resp.status_code == 200, resp.status_code
    return load_workbook(io.BytesIO(resp.data))


def columns(ws):
    """{header text without '*' and unit: column index}."""
    out = {}
    for cell in ws[1]:
        if cell.value:
            out[cell.value.lstrip("*").split("（")[0]] = cell.column
            out[cell.value.lstrip("*")] = cell.column
    return out


def good_row(i):
    return {"建设项目名称": f"郑州市第{i}中学教学楼", "项目代码": f"2026-410102-47-03-{i:06d}",
            "建设单位（个人）": "郑州市中原区教育局", "建设位置": f"中原区建设路{i}号",
            "受理日期": "2026-03-08", "建设规模": "教学楼一栋，地上5层", "总建筑面积": "9106.49",
            "机动车泊位": "40", "建设用地规划许可证编号": "地字第4101022025YG0000001号"}


def fill(wb, rows, start=2):
    ws = wb["许可信息"]
    cols = columns(ws)
    for r, row in enumerate(rows, start=start):
        for name, value in row.items():
            ws.cell(row=r, column=cols[name], value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload_page(client, data, name="审批信息表.xlsx", code=CP):
    return client.post("/filing/upload", data={"type": code, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def permits(app, code=CP):
    with app.app_context():
        from core.extensions import db
        model = app.extensions["permits"].models[code]
        return list(db.session.scalars(select(model).order_by(model.id)))


def permit_count(app):
    with app.app_context():
        from core.extensions import db
        from core.models import Permit
        return db.session.scalar(select(func.count()).select_from(Permit))


def test_template_is_derived_from_the_declaration(app, clerk):
    wb = get_template(clerk)
    assert wb.sheetnames[:2] == ["填写说明", "许可信息"] and wb["选项"].sheet_state == "hidden"
    ws = wb["许可信息"]
    ptype = app.extensions["permits"].registry[CP]
    headers = [c.value for c in ws[1]]
    assert headers == [("*" if f.required else "") + f.label_with_unit for f in ptype.all_fields]
    assert "*建设项目名称" in headers and "总建筑面积（平方米）" in headers and "机动车泊位（个）" in headers
    cols = columns(ws)
    code_letter = ws.cell(row=1, column=cols["项目代码"]).column_letter
    assert ws.cell(row=2, column=cols["项目代码"]).number_format == "@"
    assert ws.column_dimensions[code_letter].number_format == "@"
    assert ws.cell(row=2, column=cols["受理日期"]).number_format == "yyyy-mm-dd"
    # choice columns are drop-downs (land use permit: 土地取得方式)
    lw = get_template(clerk, "land_use_permit")
    ls = lw["许可信息"]
    col = ls.cell(row=1, column=columns(ls)["土地取得方式"]).column_letter
    lists = [dv for dv in ls.data_validations.dataValidation if dv.type == "list"]
    assert any(f"{col}2" in str(dv.sqref) for dv in lists)
    options_col = [c.value for c in lw["选项"]["A"]]
    assert options_col[:3] == ["土地取得方式", "出让", "划拨"]
    info = wb["填写说明"]
    texts = [c.value for row in info.iter_rows() for c in row if c.value]
    assert any("示例行" in str(t) for t in texts) and "2026-410102-47-03-012345" in texts
    assert ws.cell(row=1, column=1).comment is not None


def test_filled_template_imports_five_drafts(app, clerk):
    data = fill(get_template(clerk), [good_row(i) for i in range(1, 6)])
    resp = upload_page(clerk, data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:2000]
    assert "已保存 5 条草稿" in html
    rows = permits(app)
    assert [p.project_name for p in rows] == [f"郑州市第{i}中学教学楼" for i in range(1, 6)]
    first = rows[0]
    assert (first.status, first.bureau_code, first.accepted_on) == ("draft", "41010201", dt.date(2026, 3, 8))
    assert first.total_floor_area == Decimal("9106.49") and first.parking_spaces == 40
    assert first.project_code == "2026-410102-47-03-000001"
    creates = audit_rows(app, "permit.create")
    assert len(creates) == 5 and all(r[0] == "zy_clerk" and r[1] == "user" for r in creates)
    assert {r[2] for r in creates} == {str(p.id) for p in rows}
    assert "郑州市第1中学教学楼" in creates[0][4]
    imports = audit_rows(app, "import")
    assert len(imports) == 1 and imports[0][0] == "zy_clerk"
    count, problem = chain_ok(app)
    assert problem is None and count >= 6
    # the clerk sees them in the list
    listing = clerk.get("/permits/construction_permit/list/").get_data(as_text=True)
    assert "郑州市第5中学教学楼" in listing


def test_one_bad_row_among_a_thousand_saves_nothing_and_is_named(app, clerk):
    rows = [good_row(i) for i in range(1, 1001)]
    rows[736]["受理日期"] = "2026-02-30"
    data = fill(get_template(clerk), rows)
    resp = upload_page(clerk, data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "发现 1 处错误，整张表均未保存" in html
    assert permit_count(app) == 0 and audit_rows(app, "import") == []
    # the API gives the same report as JSON
    api = client_api(app)
    result = api.post(f"/api/v1/permits/{CP}/import", data={"file": (io.BytesIO(data), "x.xlsx")},
                      headers=api.headers, content_type="multipart/form-data")
    assert result.status_code == 422
    (error,) = result.json["errors"]
    assert (error["sheet"], error["row"], error["column"], error["value"]) == ("许可信息", 738, "E", "2026-02-30")
    assert "受理日期" in error["message"] and error["header"] == "受理日期"
    # the marked copy has the bad cell filled and commented
    import re
    link = re.search(r'href="(/filing/report/[0-9a-f]+\.xlsx)"', html).group(1)
    marked = clerk.get(link)
    assert marked.status_code == 200
    assert "_%E9%94%99%E8%AF%AF%E6%A0%87%E6%B3%A8.xlsx" in marked.headers["Content-Disposition"]  # _错误标注
    cell = load_workbook(io.BytesIO(marked.data))["许可信息"]["E738"]
    assert cell.value == "2026-02-30" and "受理日期" in cell.comment.text
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    # another user cannot fetch it
    make_user(app, "gy_clerk", "41018101")
    other = app.test_client()
    login(other, "gy_clerk", CLERK_PASSWORD)
    assert other.get(link).status_code == 404


class _Api:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def post(self, *a, **kw):
        return self.client.post(*a, **kw)

    def get(self, *a, **kw):
        return self.client.get(*a, **kw)


def client_api(app, user="zy_clerk"):
    client = app.test_client()
    return _Api(client, api_token(client, user, CLERK_PASSWORD))


@pytest.mark.parametrize("given", [dt.datetime(2024, 3, 8), "2024年3月8日", "2024-03-08", "2024/3/8"])
def test_each_date_form_is_accepted(app, clerk, given):
    row = dict(good_row(1), 受理日期=given)
    resp = upload_page(clerk, fill(get_template(clerk), [row]))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert permits(app)[0].accepted_on == dt.date(2024, 3, 8)


@pytest.mark.parametrize("given", ["03/08/2024", "8.3.24", "2024-3", "2024年13月1日"])
def test_ambiguous_dates_are_refused(app, clerk, given):
    row = dict(good_row(1), 受理日期=given)
    resp = upload_page(clerk, fill(get_template(clerk), [row]))
    assert resp.status_code == 422
    assert "受理日期" in resp.get_data(as_text=True) and permit_count(app) == 0


def test_codes_typed_as_numbers_are_refused_with_the_hint(app, clerk):
    rows = [dict(good_row(1), 建设用地规划许可证编号=41010220250001), good_row(2)]
    api = client_api(app)
    resp = api.post(f"/api/v1/permits/{CP}/import", headers=api.headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(fill(get_template(clerk), rows)), "x.xlsx")})
    assert resp.status_code == 422
    (error,) = resp.json["errors"]
    assert error["row"] == 2 and error["value"] == "41010220250001"
    assert "文本格式" in error["message"] and "建设用地规划许可证编号" in error["message"]
    # an 18-digit ID number that became a float in a rural permit workbook
    wb = get_template(clerk, "rural_permit")
    ws = wb["许可信息"]
    cols = columns(ws)
    values = {"建设项目名称": "村民住宅", "建设单位（个人）": "张三", "建设位置": "某村三组", "建设规模": "两层",
              "身份证号": 4.10102199001011e17}
    for name, value in values.items():
        ws.cell(row=2, column=cols[name], value=value)
    buf = io.BytesIO()
    wb.save(buf)
    resp = api.post("/api/v1/permits/rural_permit/import", headers=api.headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(buf.getvalue()), "x.xlsx")})
    assert resp.status_code == 422 and "身份证号" in resp.json["errors"][0]["message"]
    assert "前导零" in resp.json["errors"][0]["message"]
    assert permit_count(app) == 0


def test_merged_cells_count_for_every_row_they_cover(app, clerk):
    wb = get_template(clerk)
    ws = wb["许可信息"]
    cols = columns(ws)
    rows = [good_row(i) for i in range(1, 4)]
    for r, row in enumerate(rows, start=2):
        for name, value in row.items():
            if name not in ("建设单位（个人）", "受理日期"):
                ws.cell(row=r, column=cols[name], value=value)
    holder = cols["建设单位（个人）"]
    ws.cell(row=2, column=holder, value="郑州市中原区教育局")
    ws.merge_cells(start_row=2, start_column=holder, end_row=6, end_column=holder)   # over two blank rows too
    ws.cell(row=2, column=cols["受理日期"], value="2026年3月9日")
    ws.merge_cells(start_row=2, start_column=cols["受理日期"], end_row=4, end_column=cols["受理日期"])
    buf = io.BytesIO()
    wb.save(buf)
    resp = upload_page(clerk, buf.getvalue())
    assert resp.status_code == 200, resp.get_data(as_text=True)[:3000]
    saved = permits(app)
    assert [p.holder for p in saved] == ["郑州市中原区教育局"] * 3
    assert [p.accepted_on for p in saved] == [dt.date(2026, 3, 9)] * 3


def test_gb18030_csv_with_the_same_columns_is_accepted(app, clerk):
    ptype = app.extensions["permits"].registry[CP]
    heads = [("*" if f.required else "") + f.label_with_unit for f in ptype.all_fields]
    by_label = {f.label: ("*" if f.required else "") + f.label_with_unit for f in ptype.all_fields}
    lines = [",".join(heads)]
    for i in (1, 2):
        row = dict(good_row(i))
        row["建设单位（个人）"] = "䶮𠀾建设有限公司"        # not in GBK, only in GB18030
        values = {by_label[k]: v for k, v in row.items()}
        lines.append(",".join(values.get(h, "") for h in heads))
    data = ("\r\n".join(lines) + "\r\n").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    resp = upload_page(clerk, data, name="审批信息.csv")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:3000]
    saved = permits(app)
    assert [p.holder for p in saved] == ["䶮𠀾建设有限公司"] * 2
    assert saved[0].project_code == "2026-410102-47-03-000001"
    bad = ",".join(heads) + "\r\n" + ",".join("4.10102E+17" if h == "项目代码" else "x" for h in heads)
    resp = upload_page(clerk, bad.encode("gb18030"), name="坏.csv")
    assert resp.status_code == 422 and "文本格式" in resp.get_data(as_text=True)


def test_areas_in_mu_and_hectares_are_converted_with_the_original_kept(app, clerk):
    wb = get_template(clerk, "land_use_permit")
    ws = wb["许可信息"]
    cols = columns(ws)
    ws.cell(row=1, column=cols["净用地面积"], value="净用地面积（公顷）")     # unit given in the header
    base = {"项目名称": "用地项目", "用地单位": "某置业有限公司", "用地位置": "二七区某路",
            "土地用途": "二类城镇住宅用地", "土地取得方式": "划拨"}
    for r, (total, net) in enumerate([("3亩", 0.5), ("1.2公顷", "0.25"), ("12345.67", None)], start=2):
        for name, value in dict(base, 总用地面积=total, 净用地面积=net).items():
            ws.cell(row=r, column=cols[name], value=value)
    buf = io.BytesIO()
    wb.save(buf)
    resp = upload_page(clerk, buf.getvalue(), code="land_use_permit")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:3000]
    saved = permits(app, "land_use_permit")
    assert [p.total_area for p in saved] == [Decimal("2000.00"), Decimal("12000.00"), Decimal("12345.67")]
    assert [p.net_area for p in saved] == [Decimal("5000.00"), Decimal("2500.00"), None]
    with app.app_context():
        from core.extensions import db
        from core.imports import ImportNote
        notes = {(n.permit_id, n.field): (n.original, n.converted) for n in db.session.scalars(select(ImportNote))}
    assert notes == {(saved[0].id, "total_area"): ("3亩", "2000.00平方米"),
                     (saved[0].id, "net_area"): ("0.5公顷", "5000.00平方米"),
                     (saved[1].id, "total_area"): ("1.2公顷", "12000.00平方米"),
                     (saved[1].id, "net_area"): ("0.25公顷", "2500.00平方米")}
    show = clerk.get(f"/permits/land_use_permit/show/{saved[0].id}").get_data(as_text=True)
    assert "导入时换算的数值" in show and "3亩" in show and "2000.00平方米" in show


def test_missing_required_column_and_unknown_type(app, clerk):
    wb = get_template(clerk)
    ws = wb["许可信息"]
    ws.delete_cols(columns(ws)["建设位置"])
    data = fill(wb, [{k: v for k, v in good_row(1).items() if k != "建设位置"}])
    resp = upload_page(clerk, data)
    assert resp.status_code == 422 and "缺少必填列「建设位置」" in resp.get_data(as_text=True)
    assert clerk.get("/filing/hot_work/template.xlsx").status_code == 404
    assert upload_page(clerk, b"MZ\x00\x00not a workbook", name="x.xlsx").status_code == 422
    assert permit_count(app) == 0


def test_api_template_and_import(app):
    make_user(app, "zy_clerk", "41010201")
    api = client_api(app)
    tpl = api.get(f"/api/v1/permits/{CP}/template.xlsx", headers=api.headers)
    assert tpl.status_code == 200 and tpl.mimetype.endswith("spreadsheetml.sheet")
    data = fill(load_workbook(io.BytesIO(tpl.data)), [good_row(7)])
    resp = api.post(f"/api/v1/permits/{CP}/import", headers=api.headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(data), "一行.xlsx")})
    assert resp.status_code == 201, resp.json
    assert resp.json["created"] == 1 and resp.json["errors"] == []
    assert permits(app)[0].bureau_code == "41010201"
    assert api.post(f"/api/v1/permits/{CP}/import", headers=api.headers, data={}).status_code == 422
    assert api.get(f"/api/v1/permits/{CP}/template.xlsx").status_code == 401


def test_province_admin_must_choose_a_bureau(app, client):
    login(client)
    data = fill(get_template(client), [good_row(1)])
    refused = upload_page(client, data)
    assert refused.status_code == 422 and "请选择审批主体" in refused.get_data(as_text=True)
    ok = client.post("/filing/upload", data={"type": CP, "bureau_code": "41018101",
                                             "file": (io.BytesIO(data), "x.xlsx")}, content_type="multipart/form-data")
    assert ok.status_code == 200
    assert permits(app)[0].bureau_code == "41018101"


def test_list_export_masks_personal_fields_and_keeps_filters(app, clerk):
    from core.audit import acting_as
    with app.app_context():
        from core import records
        from core.extensions import db
        state = app.extensions["permits"]
        ptype = state.registry["rural_permit"]
        with acting_as("test", "job"):
            for name, bureau in (("张三住宅", "41010201"), ("李四住宅", "41010201"), ("王五住宅", "41018101")):
                values, errors = ptype.clean({"project_name": name, "holder": name[:2], "location": "某村",
                                              "construction_scale": "两层", "id_number": "11010519491231002X"})
                assert not errors
                records.create(ptype, state.models["rural_permit"], values, bureau)
        db.session.commit()
    page = clerk.get("/permits/rural_permit/list/").get_data(as_text=True)
    assert 'id="export-xlsx"' in page
    resp = clerk.get("/filing/rural_permit/export.xlsx")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    heads = rows[0]
    assert "身份证号" in heads
    body = rows[1:]
    assert sorted(r[heads.index("建设项目名称")] for r in body) == ["张三住宅", "李四住宅"]   # own bureau only
    assert {r[heads.index("身份证号")] for r in body} == {"110*************2X"}
    assert "11010519491231002X" not in resp.data.decode("latin-1")
    filtered = clerk.get("/filing/rural_permit/export.xlsx?_flt_0_project_name=张三")
    rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(filtered.data)).active.iter_rows()]
    assert [r[heads.index("建设项目名称")] for r in rows[1:]] == ["张三住宅"]
    assert audit_rows(app, "permit.export")[0][0] == "zy_clerk"


def test_import_on_both_databases(any_app):
    make_user(any_app, "zy_clerk", "41010201")
    client = any_app.test_client()
    login(client, "zy_clerk", CLERK_PASSWORD)
    data = fill(get_template(client), [good_row(i) for i in range(1, 31)])
    resp = upload_page(client, data)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    saved = permits(any_app)
    assert len(saved) == 30 and saved[-1].project_name == "郑州市第30中学教学楼"
    assert len(audit_rows(any_app, "permit.create")) == 30
    assert chain_ok(any_app)[1] is None


def test_batch_audit_records_equal_single_appends_with_sm3(make_app):
    """The import appends its audit records in one batch; the chain must verify as if appended one by one."""
    app = make_app(PERMITS_AUDIT_HASH="sm3")
    make_user(app, "zy_clerk", "41010201")
    client = app.test_client()
    login(client, "zy_clerk", CLERK_PASSWORD)
    assert upload_page(client, fill(get_template(client), [good_row(i) for i in range(1, 4)])).status_code == 200
    with app.app_context():
        from core import audit
        from core.audit import AuditRecord
        from core.extensions import db
        records = list(db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
        assert {r.algo for r in records} == {"sm3"}
        for rec in records:
            assert audit.compute_hash(rec, rec.prev_hash) == rec.hash
        seqs = [r.seq for r in records]
        assert seqs == list(range(1, len(seqs) + 1))
        assert [r.action for r in records[-4:]] == ["permit.create"] * 3 + ["import"]
    assert chain_ok(app)[1] is None
