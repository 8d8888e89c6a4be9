"""乡村建设规划许可证 (乡字, XG).

身份证号 and 宅基地批准书号 are personal data: stored, masked in lists and
exports, never printed in a QR payload or on a public page.
"""
from core.hookspecs import hookimpl
from core.registry import Decimal_, Field, Integer, PermitType, Text, YesNo

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_id_number(value):
    """GB 11643 citizen ID number: 17 digits and a MOD 11-2 check character."""
    if len(value) != 18 or not value[:17].isdigit():
        raise ValueError("身份证号应为18位")
    total = sum(int(c) * w for c, w in zip(value[:17], _WEIGHTS))
    if "10X98765432"[total % 11] != value[17].upper():
        raise ValueError("身份证号校验位不正确")


@hookimpl
def register_permit_types(register):
    register(PermitType(
        code="rural_permit", name="乡村建设规划许可证", prefix_char="乡", letters="XG",
        labels={"holder": "建设单位（个人）", "project_name": "建设项目名称", "location": "建设位置"},
        fields=[
            Field("construction_scale", "建设规模", Text(1000, multiline=True), required=True, fieldset="建设内容"),
            Field("floor_area", "建筑面积", Decimal_(unit="平方米", places=2), fieldset="建设内容"),
            Field("floors", "层数", Integer(min=1, max=10, unit="层"), fieldset="建设内容"),
            Field("id_number", "身份证号", Text(18), fieldset="申请人（个人）", printed=False, personal=True,
                  validate=check_id_number, help="村民个人建房时填写；列表和导出中只显示部分号码"),
            Field("homestead_approval_no", "宅基地批准书号", Text(60), fieldset="申请人（个人）",
                  printed=False, personal=True),
            Field("township_issued", "乡镇核发", YesNo(), fieldset="办理信息", printed=False,
                  help="乡镇政府核发、由县级自然资源部门代为取号的填“是”"),
            Field("attachments_note", "附图及附件名称", Text(500), fieldset="建设内容"),
        ],
        certificate_template="rural_permit/certificate.html",
    ))
