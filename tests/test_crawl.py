"""Crawl every page an admin can reach: no external URL, no English-only text in zh, no server error."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

from conftest import SAMPLES, api_token, login

#: FAB's permission tables list permission and view identifiers (can_list, UserDBModelView): data, not labels
SKIP = re.compile(r"/permissions/|/viewmenus/|/permissionviews/|/logout|/delete/|/toggle|/lang/|/api/|/swagger|/static/|\.pdf$|\.xlsx$|/download/|/action/"
                  r"|/_openapi|/export")
#: words that may stand in Chinese pages (names, units, formats, the language switch)
ALLOWED = {"English", "JSON", "API", "PDF", "QR", "Excel", "xlsx", "csv", "CSV", "OFD", "DOCX", "XLSX", "DWG", "ZIP",
           "JPEG", "PNG", "SHA", "URL", "ID", "admin", "Ed25519", "SM3", "SM2", "UTC", "Asia", "Shanghai", "GB",
           "ISO", "Base64", "base64url", "Bearer", "Token", "OpenAPI", "XS", "YG", "GG", "XG", "HS", "DH",
           "sha256", "sm3", "ha", "m2", "km", "PermitTypes", "http", "https", "localhost", "permits", "test",
           "local", "Public", "zh", "en", "cn", "gb", "Hn", "JWT", "HTTP", "IP", "None"}
WORD = re.compile(r"[A-Za-z]{3,}")
#: type codes, view names and FAB permission names ("can edit on rural_permit") are data, not labels
IDENTIFIER = re.compile(r"^([a-z0-9]+(_[a-z0-9]+)+|[A-Z][a-z]+([A-Z][a-z]+)+|\S+@\S+"
                        r"|\[?([a-z][a-z_ ]* on [^,\]]+(, )?)+\]?)$")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.refs, self.text = [], [], []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style", "code", "pre"):     # code, hashes, keys: data, not labels
            self._skip += 1
        for key in ("href", "src", "action"):
            if attrs.get(key):
                self.refs.append(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for key in ("placeholder", "title", "value"):
            if attrs.get(key) and tag != "input" or (key == "placeholder" and attrs.get(key)):
                if key != "value":
                    self.text.append(attrs[key])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "pre") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(data.strip())


def _english(texts):
    bad = []
    for t in texts:
        if IDENTIFIER.match(t):
            continue
        words = [w for w in WORD.findall(t) if w not in ALLOWED]
        if words and not re.search(r"[\u4e00-\u9fff]", t):
            bad.append(t)
    return bad


def _seed_records(client):
    headers = api_token(client)
    for code, sample in SAMPLES.items():
        resp = client.post(f"/api/v1/permits/{code}/", json=dict(sample, bureau_code="41010201"), headers=headers)
        assert resp.status_code == 201


def test_crawl_admin_pages(app):
    client = app.test_client()
    login(client)
    _seed_records(client)
    _crawl(client, minimum_pages=20)


def test_crawl_clerk_pages(app):
    from numbering_support import CLERK_PASSWORD, make_user
    admin = app.test_client()
    login(admin)
    _seed_records(admin)
    make_user(app, "crawl_clerk", "41010201")
    clerk = app.test_client()
    login(clerk, "crawl_clerk", CLERK_PASSWORD)
    _crawl(clerk, minimum_pages=10)


def _crawl(client, minimum_pages):
    seen, queue, problems = set(), ["/"], []
    external_refs = []
    while queue and len(seen) < 400:
        url = queue.pop(0)
        path = urlparse(url).path
        key = path + ("?" + urlparse(url).query if urlparse(url).query and "_flt" not in url else "")
        if key in seen or SKIP.search(path):
            continue
        seen.add(key)
        resp = client.get(url)
        if resp.status_code in (301, 302):
            queue.append(resp.headers["Location"])
            continue
        if resp.status_code >= 500:
            problems.append(f"{url}: HTTP {resp.status_code}")
            continue
        if "text/html" not in resp.content_type:
            continue
        page = _Page()
        page.feed(resp.get_data(as_text=True))
        for ref in page.refs:
            host = urlparse(ref).netloc
            if host and host not in ("localhost", "permits.test") or ref.startswith("//"):
                external_refs.append(f"{url}: {ref}")
        for text in _english(page.text):
            problems.append(f"{url}: English text {text!r}")
        for link in page.links:
            absolute = urljoin(url, link)
            if urlparse(absolute).netloc in ("", "localhost") and not link.startswith(("#", "javascript:")):
                queue.append(urlparse(absolute).path + (("?" + urlparse(absolute).query) if urlparse(absolute).query else ""))
    assert len(seen) > minimum_pages, sorted(seen)
    assert external_refs == [], "\n".join(external_refs)
    assert problems == [], "\n".join(sorted(set(problems))[:300])
