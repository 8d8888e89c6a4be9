"""建设工程规划土地核实意见确认书 (核字, HS)."""
from core.hookspecs import hookimpl
from core.registry import Choice, Date, Decimal_, Field, Integer, PermitType, Text

M2 = dict(unit="平方米", places=2)


@hookimpl
def register_permit_types(register):
    register(PermitType(
        code="verification", name="建设工程规划土地核实意见确认书", prefix_char="核", letters="HS",
        title="建设工程规划土地核实意见确认书",
        labels={"holder": "建设单位", "project_name": "建设项目名称", "location": "建设项目位置"},
        fields=[
            Field("construction_permit_no", "建设工程规划许可证编号", Text(40), required=True, fieldset="核实依据"),
            Field("survey_unit", "竣工实测成果编制单位", Text(100), fieldset="核实依据"),
            Field("survey_date", "实测时间", Date(), fieldset="核实依据"),
            Field("buildings", "栋数", Integer(unit="栋"), fieldset="建设规模"),
            Field("above_ground_area", "地上建筑面积", Decimal_(**M2), fieldset="建设规模"),
            Field("underground_area", "地下建筑面积", Decimal_(**M2), fieldset="建设规模"),
            Field("land_area", "用地面积", Decimal_(**M2), fieldset="土地核验"),
            Field("land_conclusion", "土地核验结论", Choice("符合", "基本符合", "不符合"), fieldset="土地核验"),
            Field("conclusion", "规划核实意见", Text(1000, multiline=True), required=True, fieldset="核实意见"),
            Field("attachments_note", "附图及附件名称", Text(500), fieldset="核实意见"),
        ],
        certificate_template="verification/certificate.html",
    ))
