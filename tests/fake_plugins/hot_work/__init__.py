"""A throwaway sixth permit type, registered only by tests: no edit to the core is needed for it."""
from core.hookspecs import hookimpl
from core.registry import Choice, Decimal_, Field, PermitType, Text


@hookimpl
def register_permit_types(register):
    register(PermitType(
        code="hot_work", name="动火作业许可", prefix_char="火", letters="DH",
        fields=[
            Field("applicant", "申请单位", Text(100), required=True),
            Field("site_area", "作业面积", Decimal_(unit="平方米", places=2)),
            Field("level", "等级", Choice("一级", "二级"), required=True),
        ],
        certificate_template="hot_work/certificate.html",
    ))
