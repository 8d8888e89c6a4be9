"""A real browser (Debian's chromium, headless, driven by Playwright) against the running app."""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from conftest import ADMIN_PASSWORD, build_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it")
        pytest.skip("chromium not installed")
    app = build_app(tmp_path_factory.mktemp("live"), WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _login(page, base, username="admin", password=ADMIN_PASSWORD):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_admin_opens_every_add_page(live_server, browser):
    base, app = live_server
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    external = []
    context.route("**/*", lambda route: (external.append(route.request.url), route.abort())
                  if not route.request.url.startswith(base) else route.continue_())
    page = context.new_page()
    page.goto(f"{base}/login/")
    assert "登录" in page.content()
    page.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)
    _login(page, base)
    assert "注销" in page.content()
    for ptype in app.extensions["permits"].registry:
        page.goto(f"{base}/permits/{ptype.code}/add")
        assert ptype.name in page.content()
        for f in ptype.all_fields:
            assert page.locator(f"label[for={f.name}], #{f.name}").count() >= 1, f.name
        page.screenshot(path=str(ARTIFACTS / f"add_{ptype.code}.png"), full_page=True)
    assert external == []
    context.close()


def test_clerk_style_add_shows_chinese_error(live_server, browser):
    base, _app = live_server
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    _login(page, base)
    page.goto(f"{base}/permits/land_use_permit/add")
    page.fill("#project_name", "浏览器测试项目")
    page.fill("#holder", "某某公司")
    page.fill("#location", "某路")
    page.fill("#land_use", "二类城镇住宅用地")
    page.fill("#total_area", "很多")
    page.evaluate("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    html = page.content()
    assert "「总用地面积」必须是数字" in html
    page.screenshot(path=str(ARTIFACTS / "add_error.png"), full_page=True)
    context.close()
