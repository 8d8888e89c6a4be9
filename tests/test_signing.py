"""The province key pair and the compact signed payload."""
from __future__ import annotations

import datetime as dt
import os
import stat

import pytest

from numbering_support import get_permit, issue, new_draft


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from conftest import build_app
    app = build_app(tmp_path_factory.mktemp("signing"))
    yield app
    with app.app_context():
        from core.extensions import db
        db.session.remove()
        db.engine.dispose()


def test_init_creates_the_key_pair_private_key_0600(app):
    from core import signing
    folder = signing.key_dir(app.instance_path)
    private, public = folder / "private.pem", folder / "public.pem"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and "PUBLIC KEY" in public.read_text()
    kid = signing.current_key_id(app.instance_path)
    assert list(signing.public_keys(app.instance_path)) == [kid] and len(kid) == 8
    # a second init keeps the key
    assert "已存在" in signing.ensure_keys(app.instance_path)[0]
    assert signing.current_key_id(app.instance_path) == kid


def test_payload_roundtrip_is_short_ascii_and_carries_no_personal_data(app):
    from core import signing
    pk = new_draft(app, "rural_permit", bureau="4101G101", id_number="11010519491231002X",
                   homestead_approval_no="宅批〔2025〕17号")
    number, url, payload = issue(app, pk, today=dt.date(2025, 11, 5))
    assert url == "http://permits.test/v/" + payload
    assert payload.isascii() and len(payload) == 134
    assert set(payload) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    raw = signing.b64decode(payload)
    assert b"11010519491231002X" not in raw and b"1002X" not in raw
    decoded = signing.decode(url)
    permit = get_permit(app, pk)
    assert decoded.number() == number == "乡字第4101022025XG0000001号"
    assert (decoded.letters, decoded.bureau_code, decoded.issued_on) == ("XG", "4101G101", dt.date(2025, 11, 5))
    assert permit.digest.startswith(decoded.digest) and len(decoded.digest) == 24
    assert decoded.key_id == signing.current_key_id(app.instance_path)
    assert signing.check_signature(decoded, signing.public_keys(app.instance_path)) == "ok"


def test_digest_covers_every_printed_field_and_only_those(app):
    from core import signing
    from core.extensions import db
    from core.models import Permit
    pk = new_draft(app, "rural_permit")
    with app.app_context():
        permit = db.session.get(Permit, pk)
        ptype = app.extensions["permits"].registry["rural_permit"]
        base = signing.digest_of(ptype, permit)
        permit.id_number = "11010519491231002X"          # not printed: no effect
        assert signing.digest_of(ptype, permit) == base
        permit.floors = 3                                 # printed: changes the digest
        assert signing.digest_of(ptype, permit) != base
        db.session.rollback()


def test_one_changed_byte_breaks_the_signature(app):
    from core import signing
    _n, _u, payload = issue(app, new_draft(app), today=dt.date(2025, 11, 6))
    raw = bytearray(signing.b64decode(payload))
    keys = signing.public_keys(app.instance_path)
    for pos in (5, 9, 15, 40, len(raw) - 1):            # division, serial, bureau, signature
        tampered = bytearray(raw)
        tampered[pos] ^= 0x01
        try:
            decoded = signing.decode(signing.b64encode(bytes(tampered)))
        except signing.PayloadError:
            continue
        assert signing.check_signature(decoded, keys) == "bad_signature"


def test_payload_signed_by_another_key_is_refused(app, tmp_path):
    from core import signing
    _n, _u, payload = issue(app, new_draft(app), today=dt.date(2025, 11, 7))
    decoded = signing.decode(payload)
    signing.ensure_keys(tmp_path)
    forged = signing.sign(decoded.__class__(**{**decoded.__dict__, "key_id": signing.current_key_id(tmp_path)}),
                          signing.load_private(tmp_path))
    assert signing.check_signature(signing.decode(forged), signing.public_keys(app.instance_path)) == "unknown_key"
    # the same key id but another key's signature
    forged_same_id = signing.sign(decoded, signing.load_private(tmp_path))
    assert signing.check_signature(signing.decode(forged_same_id),
                                   signing.public_keys(app.instance_path)) == "bad_signature"


@pytest.mark.parametrize("text", ["", "abc", "!!!!", "A" * 134, "http://x/v/", "AVlH" * 40])
def test_malformed_payloads_raise_payload_error(text):
    from core import signing
    with pytest.raises(signing.PayloadError):
        signing.decode(text)


def test_retired_public_keys_still_verify(app, tmp_path):
    from core import signing
    signing.ensure_keys(tmp_path)
    old_pem = (signing.key_dir(tmp_path) / "public.pem").read_text()
    retired = signing.key_dir(app.instance_path) / "retired"
    retired.mkdir(exist_ok=True)
    (retired / "old.pem").write_text(old_pem)
    try:
        keys = signing.public_keys(app.instance_path)
        assert signing.current_key_id(tmp_path) in keys and len(keys) == 2
    finally:
        (retired / "old.pem").unlink()
