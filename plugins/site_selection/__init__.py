"""建设项目用地预审与选址意见书 (用字, XS)."""
from core.hookspecs import hookimpl
from core.registry import Decimal_, Field, PermitType, Text

HA = dict(unit="公顷", places=4)


@hookimpl
def register_permit_types(register):
    register(PermitType(
        code="site_selection", name="建设项目用地预审与选址意见书", prefix_char="用", letters="XS",
        labels={"holder": "建设单位名称", "location": "项目拟选位置"},
        fields=[
            Field("construction_basis", "项目建设依据", Text(500, multiline=True), required=True),
            Field("total_area", "拟用地总面积", Decimal_(**HA), required=True, fieldset="拟用地面积"),
            Field("farmland_area", "农用地", Decimal_(**HA), fieldset="拟用地面积"),
            Field("arable_area", "其中耕地", Decimal_(**HA), fieldset="拟用地面积"),
            Field("basic_farmland_area", "其中永久基本农田", Decimal_(**HA), fieldset="拟用地面积"),
            Field("construction_land_area", "建设用地", Decimal_(**HA), fieldset="拟用地面积"),
            Field("unused_land_area", "未利用地", Decimal_(**HA), fieldset="拟用地面积"),
            Field("sea_area", "围填海", Decimal_(**HA), fieldset="拟用地面积"),
            Field("area_note", "拟用地面积说明", Text(500, multiline=True), fieldset="拟用地面积",
                  help="各地类明细的文字说明，如“占地面积2.2679公顷，其中耕地1.1902公顷……”"),
            Field("planned_scale", "拟建设规模", Text(1000, multiline=True), required=True, fieldset="建设内容"),
            Field("attachments_note", "附图及附件名称", Text(500), fieldset="建设内容"),
        ],
        certificate_template="site_selection/certificate.html",
    ))
