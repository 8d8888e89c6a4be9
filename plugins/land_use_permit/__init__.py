"""建设用地规划许可证 (地字, YG)."""
from core.hookspecs import hookimpl
from core.registry import Choice, Decimal_, Field, PermitType, Text

M2 = dict(unit="平方米", places=2)
CONTRACT = "国有建设用地使用权出让合同或划拨决定书"


def required_attachments(permit):
    """Land obtained by 出让 needs its contract on file before the permit is issued."""
    return [CONTRACT] if getattr(permit, "acquisition", None) == "出让" else []


@hookimpl
def register_permit_types(register):
    register(PermitType(
        code="land_use_permit", name="建设用地规划许可证", prefix_char="地", letters="YG",
        labels={"holder": "用地单位", "location": "用地位置"},
        fields=[
            Field("approving_authority", "批准用地机关", Text(100)),
            Field("approval_doc", "批准用地文号", Text(100)),
            Field("total_area", "总用地面积", Decimal_(**M2), required=True, fieldset="用地面积"),
            Field("net_area", "净用地面积", Decimal_(**M2), fieldset="用地面积"),
            Field("road_green_area", "代征道路及绿地面积", Decimal_(**M2), fieldset="用地面积"),
            Field("land_use", "土地用途", Text(100), required=True, fieldset="用地性质",
                  help="按国土空间调查、规划、用途管制用地用海分类填写，如“二类城镇住宅用地”"),
            Field("acquisition", "土地取得方式", Choice("出让", "划拨", "租赁", "作价出资或入股", "其他"),
                  required=True, fieldset="用地性质"),
            Field("construction_scale", "建设规模", Text(1000, multiline=True), fieldset="用地性质"),
            Field("site_selection_no", "用地预审与选址意见书编号", Text(40), fieldset="关联证书"),
            Field("contract_no", "出让合同或划拨决定书编号", Text(60), fieldset="关联证书"),
            Field("attachments_note", "附图及附件名称", Text(500), fieldset="关联证书"),
        ],
        required_attachments=required_attachments,
        certificate_template="land_use_permit/certificate.html",
    ))
