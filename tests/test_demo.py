"""``permits init --demo``: issued certificates of every type, from the public records where there is one."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from conftest import ADMIN_PASSWORD


def test_demo_issues_every_type_and_is_idempotent(make_app):
    from core import setup, verify
    from core.extensions import db
    from core.models import Permit
    app = make_app(init=False)
    with app.app_context():
        first = setup.initialise(admin_name="admin", password_source=lambda _p: (ADMIN_PASSWORD, None), demo=True)
        permits = db.session.scalars(select(Permit).order_by(Permit.id)).all()
        assert {p.type_code for p in permits if p.status == "issued"} == {t.code for t in app.extensions["permits"].registry}
        assert all(p.number and p.payload for p in permits)
        snapshot = [(p.id, p.number) for p in permits]
        second = setup.initialise(admin_name="admin", password_source=lambda _p: (ADMIN_PASSWORD, None), demo=True)
        assert [(p.id, p.number) for p in db.session.scalars(select(Permit).order_by(Permit.id))] == snapshot
        assert any("新增 0 件" in line for line in second) and any("演示证书" in line for line in first)

        by_name = {p.project_name: p for p in permits}
        school = by_name["护航路小学改扩建项目"]                     # 0.4850公顷, a real Henan record
        assert school.type_code == "site_selection" and school.total_area == Decimal("0.4850")
        baihe = by_name["白河县中厂镇中心幼儿园和小学整体迁建项目"]    # breakdown sentence, 2020年7月29日
        assert (baihe.total_area, baihe.arable_area, baihe.construction_land_area) == (
            Decimal("2.2679"), Decimal("1.1902"), Decimal("1.0777"))
        assert baihe.issued_on == dt.date(2020, 7, 29) and baihe.number.startswith("用字第4115282020XS")
        funeral = by_name["高台县殡仪馆建设项目"]                       # 9106.49㎡, 2025年8月25日
        assert funeral.total_floor_area == Decimal("9106.49") and funeral.issued_on == dt.date(2025, 8, 25)
        square = by_name["林口县育红街休闲广场建设项目"]
        assert square.construction_permit_no == funeral.number and square.land_area == Decimal("8650.00")
        land = next(p for p in permits if p.type_code == "land_use_permit")
        assert "（示例）" in land.project_name and land.total_area == Decimal("27506.67")   # 41.26亩
        assert all("演示数据" in (p.attachments_note or "") for p in permits)
    with app.test_request_context():
        assert {verify.check(p.payload).status for p in permits} <= {"valid", "trial"}
