"""The issue's "done when", end to end through the pages a clerk uses and the public pages."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from conftest import login
from numbering_support import CLERK_PASSWORD, make_user

pytestmark = pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("zbarimg")),
                                reason="poppler-utils and zbar-tools are needed")


def _qr_of(pdf_bytes, tmp_path, name):
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(pdf_bytes)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / name)], check=True)
    png = next(tmp_path.glob(f"{name}*.png"))
    return subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, check=True,
                          text=True).stdout.strip()


def test_clerk_issues_prints_scans_changes_and_verifies_offline(app, tmp_path):
    from core.extensions import db
    from core.models import Permit
    from core.verify import verify_command
    make_user(app, "clerk_e2e", "41010201")
    client = app.test_client()
    login(client, "clerk_e2e", CLERK_PASSWORD)
    form = {"bureau": "41010201",
            "project_name": "郑州市中原区某安置房项目", "holder": "郑州某置业有限公司",
            "location": "郑州市中原区桐柏路以西", "total_area": "2.5公顷", "land_use": "二类城镇住宅用地",
            "acquisition": "划拨"}
    resp = client.post("/permits/land_use_permit/add", data=form, follow_redirects=True)
    assert resp.status_code == 200
    with app.app_context():
        permit = db.session.scalar(select(Permit).where(Permit.project_name == form["project_name"]))
        pk, bureau, area = permit.id, permit.bureau_code, permit.total_area
    assert bureau == "41010201" and str(area) == "25000.00"
    page = client.post(f"/permits/land_use_permit/issue/{pk}", follow_redirects=True).get_data(as_text=True)
    with app.app_context():
        number = db.session.get(Permit, pk).number
    assert number and number.startswith("地字第410102") and number in page
    pdf = client.get(f"/permits/land_use_permit/certificate/{pk}.pdf")
    url = _qr_of(pdf.data, tmp_path, "first")
    assert url.startswith("http://permits.test/v/")
    public = app.test_client()                                   # no login
    path = url[len("http://permits.test"):]
    assert ">有效<" in public.get(path).get_data(as_text=True)

    data = {k: v for k, v in form.items() if k != "bureau"}
    data.update(total_area="26000", change_reason="用地范围调整")
    client.post(f"/permits/land_use_permit/change/{pk}", data=data, follow_redirects=True)
    with app.app_context():
        new = db.session.scalar(select(Permit).where(Permit.previous_id == pk))
        new_id, new_number = new.id, new.number
    old_page = public.get(path).get_data(as_text=True)
    assert ">已变更<" in old_page and new_number in old_page
    new_url = _qr_of(client.get(f"/permits/land_use_permit/certificate/{new_id}.pdf").data, tmp_path, "second")
    assert ">有效<" in public.get(new_url[len("http://permits.test"):]).get_data(as_text=True)

    keys = tmp_path / "keys.pem"
    keys.write_text(public.get("/v/keys?format=pem").get_data(as_text=True))
    runner = CliRunner()
    for scanned, expected in ((url, number), (new_url, new_number)):
        result = runner.invoke(verify_command, [scanned, "--public-key", str(keys)])
        assert result.exit_code == 0 and expected in result.output
