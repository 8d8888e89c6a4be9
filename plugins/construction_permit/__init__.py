"""建设工程规划许可证 (建字, GG)."""
from core.hookspecs import hookimpl
from core.registry import Decimal_, Field, Integer, PermitType, Text

M2 = dict(unit="平方米", places=2)


@hookimpl
def register_permit_types(register):
    register(PermitType(
        code="construction_permit", name="建设工程规划许可证", prefix_char="建", letters="GG",
        labels={"holder": "建设单位（个人）", "project_name": "建设项目名称", "location": "建设位置"},
        fields=[
            Field("construction_scale", "建设规模", Text(2000, multiline=True), required=True, fieldset="建设规模",
                  help="可逐栋写明计容、不计容面积"),
            Field("total_floor_area", "总建筑面积", Decimal_(**M2), fieldset="建设规模"),
            Field("above_ground_area", "地上建筑面积", Decimal_(**M2), fieldset="建设规模"),
            Field("underground_area", "地下建筑面积", Decimal_(**M2), fieldset="建设规模"),
            Field("far_area", "计容建筑面积", Decimal_(**M2), fieldset="建设规模"),
            Field("plot_ratio", "容积率", Decimal_(places=2), fieldset="规划指标"),
            Field("building_density", "建筑密度", Decimal_(unit="%", places=2, max=100), fieldset="规划指标"),
            Field("green_ratio", "绿地率", Decimal_(unit="%", places=2, max=100), fieldset="规划指标"),
            Field("height_limit", "建筑限高", Decimal_(unit="米", places=2), fieldset="规划指标"),
            Field("parking_spaces", "机动车泊位", Integer(unit="个"), fieldset="规划指标"),
            Field("bike_spaces", "非机动车泊位", Integer(unit="个"), fieldset="规划指标"),
            Field("land_permit_no", "建设用地规划许可证编号", Text(40), fieldset="关联证书"),
            Field("land_cert_no", "不动产权证号", Text(60), fieldset="关联证书"),
            Field("attachments_note", "附图及附件名称", Text(500), fieldset="关联证书"),
        ],
        certificate_template="construction_permit/certificate.html",
    ))
