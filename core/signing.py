"""The province signing key and the compact signed QR payload.

``permits init`` creates an Ed25519 key pair in the instance folder
(``signing/private.pem``, mode 0600, never served; ``signing/public.pem``).
Public keys of retired key pairs may be kept as ``signing/retired/*.pem``:
certificates signed with them still verify.  A key's id is the first 4
bytes of the SHA-256 of its raw public key, written as 8 hex digits.

The payload is 100 bytes, base64url without padding (134 ASCII characters),
so the QR at error correction M stays small enough for a 25 mm square:

====== ===== ==========================================================
bytes  field
====== ===== ==========================================================
1      ver   payload format version (1)
2      type  the two type letters (``YG``)
3      div   the 6-digit division code of the number, as an integer
1      year  year of the number minus 2000
3      ser   the 7-digit serial, as an integer
8      bur   the issuing bureau's code (``4101G101``), ASCII
2      date  issue date, days since 2000-01-01
12     dig   first 12 bytes of the SHA-256 digest of the printed fields
4      kid   key id
64     sig   Ed25519 signature over all the bytes above
====== ===== ==========================================================

No Chinese text and no personal data are in it: the verification page
reads everything else live from the database.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 1
EPOCH = dt.date(2000, 1, 1)
HEADER_LEN = 36
SIG_LEN = 64
PAYLOAD_LEN = HEADER_LEN + SIG_LEN
KEY_DIR = "signing"
#: prefix characters of the built-in types, for checks without an app (``permits verify``)
DEFAULT_PREFIXES = {"XS": "用", "YG": "地", "GG": "建", "XG": "乡", "HS": "核"}


class PayloadError(ValueError):
    """The text is not a well-formed payload (wrong length, alphabet or fields)."""


# --- keys --------------------------------------------------------------------------------------

def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:8]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_dir(instance_path) -> Path:
    return Path(instance_path) / KEY_DIR


def ensure_keys(instance_path) -> list[str]:
    """Create the key pair once (private key mode 0600); report what was done."""
    folder = key_dir(instance_path)
    private = folder / "private.pem"
    if private.exists():
        return [f"签名密钥已存在（密钥编号 {key_id(load_private(instance_path).public_key())}）"]
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = folder / f".private.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    try:
        os.link(tmp, private)          # atomic: a concurrent init keeps the first key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    key = load_private(instance_path)
    (folder / "public.pem").write_text(public_pem(key.public_key()), encoding="ascii")
    _CACHE.clear()
    return [f"已创建签名密钥（Ed25519，密钥编号 {key_id(key.public_key())}），私钥 {private}（仅本机可读）"]


_CACHE: dict = {}


def load_private(instance_path) -> Ed25519PrivateKey:
    return _private(instance_path)[0]


def _private(instance_path) -> tuple[Ed25519PrivateKey, str]:
    """The private key and its key id, read again only when the file changed."""
    path = key_dir(instance_path) / "private.pem"
    mtime = path.stat().st_mtime_ns
    cached = _CACHE.get(("private", str(path)))
    if cached and cached[0] == mtime:
        return cached[1]
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    entry = (key, key_id(key.public_key()))
    _CACHE[("private", str(path))] = (mtime, entry)
    return entry


def load_public_keys_pem(text: str) -> dict[str, Ed25519PublicKey]:
    """Every Ed25519 public key in a PEM text (one or several blocks), by key id."""
    keys = {}
    for block in text.split("-----END PUBLIC KEY-----"):
        if "-----BEGIN PUBLIC KEY-----" not in block:
            continue
        pem = block[block.index("-----BEGIN PUBLIC KEY-----"):] + "-----END PUBLIC KEY-----\n"
        key = serialization.load_pem_public_key(pem.encode("ascii"))
        if isinstance(key, Ed25519PublicKey):
            keys[key_id(key)] = key
    return keys


def public_keys(instance_path) -> dict[str, Ed25519PublicKey]:
    """The current public key and the retired ones, by key id (empty before ``permits init``)."""
    folder = key_dir(instance_path)
    files = [folder / "public.pem"] + sorted((folder / "retired").glob("*.pem"))
    stamp = tuple((str(f), f.stat().st_mtime_ns) for f in files if f.exists())
    cached = _CACHE.get(("public", str(folder)))
    if cached and cached[0] == stamp:
        return cached[1]
    keys = {}
    for f, _m in stamp:
        keys.update(load_public_keys_pem(Path(f).read_text(encoding="ascii")))
    _CACHE[("public", str(folder))] = (stamp, keys)
    return keys


def current_key_id(instance_path) -> str:
    return _private(instance_path)[1]


# --- digest -------------------------------------------------------------------------------------

def digest_of(ptype, permit) -> str:
    """SHA-256 (hex) of every printed field, as printed, in declaration order."""
    rows = [[f.name, f.kind.to_text(getattr(permit, f.name, None))] for f in ptype.printed_fields]
    text = json.dumps([ptype.code, rows], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- payload ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Payload:
    letters: str
    division: str
    year: int
    serial: int
    bureau_code: str
    issued_on: dt.date
    digest: str          # 24 hex digits (the first 12 bytes of the digest)
    key_id: str          # 8 hex digits
    signature: bytes = b""
    signed: bytes = b""

    def number(self, prefixes: dict | None = None) -> str:
        from .numbering import format_number
        prefix = (prefixes or DEFAULT_PREFIXES).get(self.letters)
        if prefix is None:
            raise PayloadError(f"unknown type letters {self.letters}")
        return format_number(prefix, self.division, self.year, self.letters, self.serial)

    def header(self) -> bytes:
        try:
            bureau = self.bureau_code.encode("ascii")
            out = (bytes([VERSION]) + self.letters.encode("ascii") + int(self.division).to_bytes(3, "big")
                   + (self.year - 2000).to_bytes(1, "big") + self.serial.to_bytes(3, "big")
                   + bureau.ljust(8, b" ") + (self.issued_on - EPOCH).days.to_bytes(2, "big")
                   + bytes.fromhex(self.digest[:24]) + bytes.fromhex(self.key_id))
        except (ValueError, OverflowError, UnicodeEncodeError) as exc:
            raise PayloadError(f"cannot encode payload: {exc}") from None
        if len(out) != HEADER_LEN or len(bureau) > 8:
            raise PayloadError("cannot encode payload: a field is too long")
        return out

    def as_dict(self, prefixes=None) -> dict:
        return {"number": self.number(prefixes), "type_letters": self.letters, "bureau_code": self.bureau_code,
                "issued_on": self.issued_on.isoformat(), "digest": self.digest, "key_id": self.key_id}


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                       for c in text):
        raise PayloadError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PayloadError("not base64url") from None


def sign(payload: Payload, private_key: Ed25519PrivateKey) -> str:
    header = payload.header()
    return b64encode(header + private_key.sign(header))


def decode(text: str) -> Payload:
    """Parse a payload (or a verification URL ending in one); PayloadError when malformed."""
    text = (text or "").strip()
    if "/v/" in text:
        text = text.rsplit("/v/", 1)[1]
    text = text.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    raw = b64decode(text)
    if len(raw) != PAYLOAD_LEN or raw[0] != VERSION:
        raise PayloadError("wrong length or version")
    h = raw[:HEADER_LEN]
    try:
        letters = h[1:3].decode("ascii")
        bureau = h[10:18].decode("ascii").rstrip(" ")
    except UnicodeDecodeError:
        raise PayloadError("non-ASCII text field") from None
    if not (letters.isascii() and letters.isalpha() and letters.isupper()) or not bureau.isalnum():
        raise PayloadError("bad text field")
    division = int.from_bytes(h[3:6], "big")
    serial = int.from_bytes(h[7:10], "big")
    if division > 999_999 or not 1 <= serial <= 9_999_999:
        raise PayloadError("bad number")
    try:
        issued = EPOCH + dt.timedelta(days=int.from_bytes(h[18:20], "big"))
    except OverflowError:
        raise PayloadError("bad date") from None
    return Payload(letters=letters, division=f"{division:06d}", year=2000 + h[6], serial=serial,
                   bureau_code=bureau, issued_on=issued, digest=h[20:32].hex(), key_id=h[32:36].hex(),
                   signature=raw[HEADER_LEN:], signed=h)


def check_signature(payload: Payload, keys: dict) -> str:
    """``"ok"``, ``"unknown_key"`` or ``"bad_signature"``."""
    key = keys.get(payload.key_id)
    if key is None:
        return "unknown_key"
    try:
        key.verify(payload.signature, payload.signed)
    except InvalidSignature:
        return "bad_signature"
    return "ok"


def sign_number(number: str, bureau_code: str, issued_on: dt.date, digest: str, instance_path) -> str:
    """The signed payload for a number, its bureau, its issue date and the digest of its printed fields."""
    from .numbering import parse_number
    key, kid = _private(instance_path)
    parts = parse_number(number)
    payload = Payload(letters=parts.letters, division=parts.division, year=parts.year, serial=parts.serial,
                      bureau_code=bureau_code, issued_on=issued_on, digest=digest[:24], key_id=kid)
    return sign(payload, key)


def verification_url(base_url: str, payload: str) -> str:
    return f"{(base_url or '').rstrip('/')}/v/{payload}"
