"""双随机、一公开: reproducible draw, no own-bureau inspector, findings, closing, publication, audit."""
from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from audit_support import PASSWORD, issued_permit, make_user, records_of
from conftest import login
from core import spotchecks
from core.scope import ROLE_INSPECTOR

POP = [(i, "4101020%d" % (i % 3)) for i in range(1, 201)]
INSPECTORS = [(f"insp{k}", "4101020%d" % (k % 3)) for k in range(9)] + [("prov1", None)]


def test_draw_is_a_function_of_the_seed_only():
    a = spotchecks.draw("seed-1", POP, INSPECTORS, Decimal("0.05"), 2)
    again = spotchecks.draw("seed-1", list(reversed(POP)), list(reversed(INSPECTORS)), Decimal("0.05"), 2)
    assert a == again
    assert len(a) == 10                                       # 5 % of 200
    assert a != spotchecks.draw("seed-2", POP, INSPECTORS, Decimal("0.05"), 2)
    # the documented rule: lowest SHA-256(seed|object|id) first
    import hashlib
    first = min(POP, key=lambda p: hashlib.sha256(f"seed-1|object|{p[0]}".encode()).hexdigest())
    assert a[0][0] == first[0]


def test_sample_size_rounds_up_and_is_at_least_one():
    assert spotchecks.sample_size(Decimal("0.05"), 1) == 1
    assert spotchecks.sample_size(Decimal("0.05"), 21) == 2
    assert spotchecks.sample_size(Decimal("0.05"), 20) == 1
    assert spotchecks.sample_size(Decimal("1"), 7) == 7


def test_no_inspector_from_the_issuing_bureau():
    for n in range(60):
        for permit_id, bureau, _rank, chosen in spotchecks.draw(f"s{n}", POP, INSPECTORS, Decimal("0.1"), 3):
            assert len(chosen) == 3 and len({c[0] for c in chosen}) == 3
            assert all(ib != bureau for _name, ib, _r in chosen), (permit_id, chosen)


def test_too_few_eligible_inspectors_is_refused():
    with pytest.raises(spotchecks.DrawError):
        spotchecks.draw("x", [(1, "41010201")], [("a", "41010201"), ("b", None)], Decimal("0.05"), 2)


def _setup(app):
    ids = []
    for i, bureau in enumerate(["41010201", "41010201", "41018101", "41018101", "41018101"] * 3):
        ids.append(issued_permit(app, bureau=bureau, serial=i + 1, issued_on=dt.date(2026, 3, 1 + i)))
    outside = [issued_permit(app, bureau="41010201", serial=99, issued_on=dt.date(2025, 12, 31)),   # too early
               issued_permit(app, bureau="41030001", serial=98, issued_on=dt.date(2026, 3, 5)),     # 洛阳
               issued_permit(app, code="rural_permit", bureau="41010201", serial=97,
                             issued_on=dt.date(2026, 3, 5))]                                        # other type
    make_user(app, "insp_zy1", "41010201", ROLE_INSPECTOR)
    make_user(app, "insp_zy2", "41010201", ROLE_INSPECTOR)
    make_user(app, "insp_gy1", "41018101", ROLE_INSPECTOR)
    make_user(app, "insp_gy2", "41018101", ROLE_INSPECTOR)
    make_user(app, "insp_prov", None, ROLE_INSPECTOR)
    return ids, outside


def test_plan_drawn_replayed_worked_and_published(any_app):
    app = any_app
    ids, outside = _setup(app)
    admin = app.test_client()
    login(admin)
    resp = admin.post("/spotchecks/new", data={
        "name": "2026年第一季度规划许可双随机抽查", "issued_from": "2026-03-01", "issued_to": "2026-06-30",
        "types": ["land_use_permit"], "regions": ["郑州", "巩义"], "ratio_percent": "20", "per_object": "2"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        from core.extensions import db
        plan = db.session.query(spotchecks.SpotCheckPlan).one()
        pk = plan.id
    assert admin.post(f"/spotchecks/{pk}/draw").status_code == 302
    with app.app_context():
        plan = db.session.get(spotchecks.SpotCheckPlan, pk)
        assert plan.status == "drawn" and len(plan.seed) == 32
        population = json.loads(plan.population)
        assert sorted(p for p, _b in population) == sorted(ids)
        assert not set(outside) & {p for p, _b in population}
        assert len(plan.objects) == 3                         # 20 % of 15
        drawn = [(o.permit_id, o.bureau_code, [(a.inspector, a.inspector_bureau) for a in o.assignments])
                 for o in plan.objects]
        for _pid, bureau, assigned in drawn:
            assert len(assigned) == 2 and all(ib != bureau for _n, ib in assigned)
        # the stored draw is what the seed gives
        again = spotchecks.draw(plan.seed, population, json.loads(plan.inspector_pool), plan.ratio, 2)
        assert [(d[0], [c[0] for c in d[3]]) for d in again] == [(p, [n for n, _ in a]) for p, _b, a in drawn]
    # replay from the command line: identical
    from core.spotchecks import spotcheck_cli
    out = app.test_cli_runner().invoke(spotcheck_cli, ["replay", str(pk)])
    assert out.exit_code == 0, out.output
    assert "OK" in out.output
    # the plan page shows the seed; replay on the page agrees
    page = admin.get(f"/spotchecks/{pk}?replay=1").get_data(as_text=True)
    assert plan.seed in page and "alert-success" in page
    # two inspectors work each object
    assignments = [(a_name, o_pid) for o_pid, _b, a in drawn for a_name, _ib in a]
    clients = {}
    with app.app_context():
        rows = db.session.query(spotchecks.SpotCheckAssignment).all()
        tasks = [(a.id, a.inspector, a.object.permit_id) for a in rows]
    for task_id, inspector, permit_id in tasks:
        c = clients.setdefault(inspector, app.test_client())
        if not getattr(c, "_logged", False):
            login(c, inspector, PASSWORD)
            c._logged = True
            mine = c.get("/spotchecks/tasks/").get_data(as_text=True)
            assert "2026年第一季度规划许可双随机抽查" in mine
        assert "总用地面积" in c.get(f"/spotchecks/tasks/{task_id}").get_data(as_text=True)
        problem = permit_id == drawn[0][0]
        data = {"result": "存在问题" if problem else "合规",
                "notes": "未按许可内容建设，联系电话13912345678" if problem else ""}
        if problem:
            data["attachment"] = (io.BytesIO("现场照片".encode()), "现场.txt")
        resp = c.post(f"/spotchecks/tasks/{task_id}", data=data, content_type="multipart/form-data")
        assert resp.status_code == 302, resp.get_data(as_text=True)
    # the admin opens the attachment from the plan page; the download is audited
    plan_page = admin.get(f"/spotchecks/{pk}").get_data(as_text=True)
    assert "现场.txt" in plan_page
    with app.app_context():
        with_file = db.session.query(spotchecks.SpotCheckAssignment).filter(
            spotchecks.SpotCheckAssignment.attachment_name.is_not(None)).first().id
    got = admin.get(f"/spotchecks/tasks/{with_file}/attachment")
    assert got.status_code == 200 and got.data == "现场照片".encode()
    got.close()
    [download] = records_of(app, "spotcheck.attachment")
    assert download.actor == "admin" and json.loads(download.after)["attachment"] == "现场.txt"
    # an inspector cannot open someone else's task
    other = next(t for t in tasks if t[1] != tasks[0][1])
    assert clients[tasks[0][1]].get(f"/spotchecks/tasks/{other[0]}").status_code == 404
    # nothing public before closing
    anon = app.test_client()
    assert "2026年第一季度" not in anon.get("/public/spotchecks").get_data(as_text=True)
    assert anon.get(f"/public/spotchecks/{pk}").status_code == 404
    assert admin.post(f"/spotchecks/{pk}/close").status_code == 302
    public = anon.get("/public/spotchecks").get_data(as_text=True)
    assert "2026年第一季度规划许可双随机抽查" in public
    detail = anon.get(f"/public/spotchecks/{pk}").get_data(as_text=True)
    with app.app_context():
        plan = db.session.get(spotchecks.SpotCheckPlan, pk)
        numbers = [o.number for o in plan.objects]
        results = [o.result for o in plan.objects]
    assert all(n in detail for n in numbers)
    assert results.count("存在问题") == 1 and results.count("合规") == 2
    assert "未按许可内容建设" in detail and "13912345678" not in detail and "139****5678" in detail
    assert "insp_" not in detail                               # inspectors' accounts are not published
    # every step is audited, with its actor
    [create] = records_of(app, "spotcheck.create")
    [draw] = records_of(app, "spotcheck.draw")
    [close] = records_of(app, "spotcheck.close")
    assert create.actor == draw.actor == close.actor == "admin"
    assert json.loads(draw.after)["seed"] == plan.seed
    assert json.loads(close.after)["存在问题"] == 1
    findings = records_of(app, "spotcheck.finding")
    assert sorted((f.actor, f.obj_id) for f in findings) == sorted((n, str(p)) for n, p in assignments)
    assert all(f.actor_kind == "user" for f in findings)
    # the replay notices a stored draw that was altered afterwards
    with app.app_context():
        a = db.session.query(spotchecks.SpotCheckAssignment).first()
        a.inspector = "insp_prov" if a.inspector != "insp_prov" else "insp_zy1"
        db.session.commit()
    out = app.test_cli_runner().invoke(spotcheck_cli, ["replay", str(pk)])
    assert out.exit_code == 1
    with app.app_context():
        from core import audit
        assert audit.verify()[2] is None


def test_closing_needs_every_finding(app):
    _setup(app)
    with app.app_context():
        from core import audit
        from core.extensions import db
        with audit.acting_as("test"):
            values, errors = spotchecks.clean_plan({"name": "抽查", "issued_from": "2026-01-01",
                                                     "issued_to": "2026-12-31"})
            assert not errors
            assert values["ratio"] == "0.05" and values["per_object"] == 2      # the defaults
            plan = spotchecks.create_plan(values)
            spotchecks.run_draw(plan, seed="fixed-seed")
            assert len(plan.objects) == 1                      # 5 % of 15, at least one
            with pytest.raises(spotchecks.DrawError) as info:
                spotchecks.close_plan(plan)
            assert plan.objects[0].number in str(info.value)
            db.session.rollback()
            first = [(o.permit_id, [a.inspector for a in o.assignments]) for o in plan.objects]
            # the same seed on a copy of the plan gives the same draw
            twin = spotchecks.create_plan(values)
            spotchecks.run_draw(twin, seed="fixed-seed")
            assert [(o.permit_id, [a.inspector for a in o.assignments]) for o in twin.objects] == first


def test_plan_form_names_the_wrong_fields(app):
    client = app.test_client()
    login(client)
    html = client.post("/spotchecks/new", data={"name": "", "issued_from": "2026-13-01", "issued_to": "",
                                                "ratio_percent": "0", "per_object": "1"}).get_data(as_text=True)
    for text in ("「计划名称」必须填写", "「发证日期起」不是有效日期", "「发证日期止」必须填写", "「抽取比例」",
                 "「每个对象的检查人员数」"):
        assert text in html, text


def test_plan_pages_are_admin_only(app):
    make_user(app, "insp_x", "41010201", ROLE_INSPECTOR)
    c = app.test_client()
    login(c, "insp_x", PASSWORD)
    assert c.get("/spotchecks/tasks/").status_code == 200
    resp = c.get("/spotchecks/")
    assert resp.status_code == 302 or "抽查计划" not in resp.get_data(as_text=True)


def test_plan_forms_need_their_csrf_token(make_app):
    import re
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    login(client)
    data = {"name": "计划", "issued_from": "2026-01-01", "issued_to": "2026-12-31"}
    assert client.post("/spotchecks/new", data=data).status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/spotchecks/new").get_data(as_text=True)).group(1)
    assert client.post("/spotchecks/new", data={**data, "csrf_token": token}).status_code == 302
    assert client.post("/spotchecks/1/draw").status_code == 400
    assert client.post("/spotchecks/1/close").status_code == 400
