"""The home page counts only what the actor may see."""
from __future__ import annotations

import re

from conftest import login
from numbering_support import CLERK_PASSWORD, make_user, new_draft


def _counts(html, code):
    row = re.search(rf'<tr data-code="{code}">(.*?)</tr>', html, re.S).group(1)
    return [int(n) for n in re.findall(r'<td class="text-right">(\d+)</td>', row)]


def test_home_counts_are_scoped(app):
    new_draft(app, "rural_permit", bureau="41010201")
    new_draft(app, "rural_permit", bureau="41010201")
    new_draft(app, "rural_permit", bureau="41018101")
    admin = app.test_client()
    login(admin)
    assert _counts(admin.get("/").get_data(as_text=True), "rural_permit") == [3, 0, 0, 0]
    make_user(app, "clerk_a", "41010201")
    clerk = app.test_client()
    login(clerk, "clerk_a", CLERK_PASSWORD)
    html = clerk.get("/").get_data(as_text=True)
    assert _counts(html, "rural_permit") == [2, 0, 0, 0]


def test_home_without_login_shows_no_counts(app):
    html = app.test_client().get("/").get_data(as_text=True)
    assert 'id="type-counts"' not in html and "登录" in html
