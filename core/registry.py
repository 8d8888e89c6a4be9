"""The permit-type declaration: one place where a type says what it is.

A plugin builds a :class:`PermitType` from plain data (its fields, labels,
number prefix, certificate template) and hands it to the ``register``
callback of the ``register_permit_types`` hook.  Everything else -- the
table, the forms, the REST schema, the Excel template, the import
validator and the certificate's field list -- is derived from it by the
core.  Field kinds know how to turn raw input (form text, JSON values,
Excel cells) into a Python value, and raise :class:`FieldError` with a
message that names the field when they cannot.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field as dc_field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

__all__ = [
    "Field", "PermitType", "FieldError", "Text", "Integer", "Decimal_", "Date",
    "Choice", "YesNo", "COMMON_FIELDS", "PROJECT_CODE_RE", "Registry",
]

#: National investment-project code (全国投资项目在线审批监管平台 项目代码),
#: e.g. ``2019-410102-47-03-012345``.
PROJECT_CODE_RE = re.compile(r"^\d{4}-\d{6}-\d{2}-\d{2}-\d{6}$")

#: 1 亩 in square metres, 1 公顷 in square metres.
AREA_FACTORS = {"平方米": Decimal(1), "㎡": Decimal(1), "m2": Decimal(1), "m²": Decimal(1),
                "亩": Decimal("666.6667"), "畝": Decimal("666.6667"),
                "公顷": Decimal(10000), "ha": Decimal(10000)}


class FieldError(ValueError):
    """Raised by a kind when a raw value cannot be accepted.

    ``message`` is a user-facing text (already translated, naming the field).
    """

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field_name = field_name
        self.message = message


def _blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


class Kind:
    """Base of the field kinds.  Subclasses implement :meth:`parse`."""

    name = "text"
    unit: str | None = None

    def parse(self, raw, label):  # pragma: no cover - abstract
        raise NotImplementedError

    def to_text(self, value) -> str:
        return "" if value is None else str(value)

    def describe(self) -> str:
        return ""


@dataclass(frozen=True)
class Text(Kind):
    max_length: int = 200
    multiline: bool = False
    pattern: str | None = None
    pattern_message: str | None = None
    name = "text"

    def parse(self, raw, label):
        if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str):
            raise ValueError(_l("%(label)s must be text", label=label))
        value = raw.strip()
        if len(value) > self.max_length:
            raise ValueError(_l("%(label)s is longer than %(n)s characters", label=label, n=self.max_length))
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ValueError(self.pattern_message or _l("%(label)s has the wrong format", label=label))
        return value


@dataclass(frozen=True)
class Integer(Kind):
    min: int | None = 0
    max: int | None = None
    unit: str | None = None
    name = "integer"

    def parse(self, raw, label):
        if isinstance(raw, bool):
            raise ValueError(_l("%(label)s must be a whole number", label=label))
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, str):
            raw = raw.strip().replace(",", "")
            if self.unit and raw.endswith(self.unit):
                raw = raw[: -len(self.unit)].strip()
        try:
            value = int(raw) if isinstance(raw, (int, str)) else None
        except ValueError:
            value = None
        if value is None:
            raise ValueError(_l("%(label)s must be a whole number", label=label))
        if self.min is not None and value < self.min:
            raise ValueError(_l("%(label)s must be at least %(n)s", label=label, n=self.min))
        if self.max is not None and value > self.max:
            raise ValueError(_l("%(label)s must be at most %(n)s", label=label, n=self.max))
        return value

    def describe(self):
        return self.unit or ""


@dataclass(frozen=True)
class Decimal_(Kind):
    unit: str | None = None
    places: int = 2
    min: Decimal | int | None = 0
    max: Decimal | int | None = None
    name = "decimal"

    def parse(self, raw, label):
        if isinstance(raw, bool):
            raise ValueError(_l("%(label)s must be a number", label=label))
        if isinstance(raw, float):
            raw = repr(raw)
        if isinstance(raw, (int, Decimal)):
            raw = str(raw)
        if not isinstance(raw, str):
            raise ValueError(_l("%(label)s must be a number", label=label))
        text = raw.strip().replace(",", "").replace("，", "")
        factor = Decimal(1)
        if self.unit:
            for unit, f in sorted(AREA_FACTORS.items(), key=lambda kv: -len(kv[0])):
                if text.endswith(unit):
                    text = text[: -len(unit)].strip()
                    if self.unit in AREA_FACTORS:
                        factor = f / AREA_FACTORS[self.unit]
                    elif unit != self.unit:
                        raise ValueError(_l("%(label)s must be given in %(unit)s", label=label, unit=self.unit))
                    break
            else:
                if text.endswith(self.unit):
                    text = text[: -len(self.unit)].strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(_l("%(label)s must be a number", label=label)) from None
        if not value.is_finite():
            raise ValueError(_l("%(label)s must be a number", label=label))
        # stored as NUMERIC(18, places): at most 18 - places digits before the point
        if value.adjusted() >= 18 - self.places or (value * factor).adjusted() >= 18 - self.places:
            raise ValueError(_l("%(label)s is too large", label=label))
        value = (value * factor).quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)
        if self.min is not None and value < Decimal(self.min):
            raise ValueError(_l("%(label)s must be at least %(n)s", label=label, n=self.min))
        if self.max is not None and value > Decimal(self.max):
            raise ValueError(_l("%(label)s must be at most %(n)s", label=label, n=self.max))
        return value

    def to_text(self, value):
        return "" if value is None else f"{Decimal(value):.{self.places}f}"

    def describe(self):
        return self.unit or ""


_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(text: str) -> int:
    """二〇一八 -> 2018, 十二 -> 12, 二十五 -> 25."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return int("".join(str(_CN_DIGITS[c]) for c in text))


_DATE_FORMS = [
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
]
_CN_DATE = re.compile(r"^([〇○零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日$")


def parse_date(raw) -> dt.date:
    """Accept date objects and the unambiguous written forms; raise ValueError otherwise.

    ``2024年3月8日``, ``2024-03-08``, ``2024/3/8``, ``2024.3.8`` and Chinese
    numerals (``二○一八年五月九日``) are accepted.  Forms whose order of day
    and month is unclear (``03/08/2024``, ``8.3.24``) are refused, not guessed.
    """
    if isinstance(raw, dt.datetime):
        if raw.time() != dt.time(0):
            raise ValueError("time")
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if not isinstance(raw, str):
        raise ValueError("type")
    text = raw.strip().replace(" ", "")
    if text.endswith("00:00:00"):
        text = text[:-8].rstrip("T")
    for pattern in _DATE_FORMS:
        m = pattern.match(text)
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _CN_DATE.match(text)
    if m:
        return dt.date(_cn_number(m.group(1)), _cn_number(m.group(2)), _cn_number(m.group(3)))
    raise ValueError("form")


@dataclass(frozen=True)
class Date(Kind):
    name = "date"

    def parse(self, raw, label):
        try:
            return parse_date(raw)
        except ValueError:
            raise ValueError(_l("%(label)s is not a date in a clear form (write it as 2024-03-08 or 2024年3月8日)",
                                label=label)) from None

    def to_text(self, value):
        return "" if value is None else f"{value.year}年{value.month}月{value.day}日"


@dataclass(frozen=True, init=False)
class Choice(Kind):
    options: tuple = ()
    name = "choice"

    def __init__(self, *options):
        object.__setattr__(self, "options", tuple(options))

    def parse(self, raw, label):
        value = raw.strip() if isinstance(raw, str) else raw
        if value not in self.options:
            raise ValueError(_l("%(label)s must be one of: %(options)s", label=label,
                                options="、".join(self.options)))
        return value

    def describe(self):
        return "/".join(self.options)


_TRUE = {"是", "true", "1", "yes", "y", "√"}
_FALSE = {"否", "false", "0", "no", "n", "×"}


@dataclass(frozen=True)
class YesNo(Kind):
    name = "boolean"

    def parse(self, raw, label):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(_l("%(label)s must be 是 or 否", label=label))

    def to_text(self, value):
        return "" if value is None else ("是" if value else "否")


@dataclass(frozen=True)
class Field:
    """One declared field of a permit type.

    ``printed`` fields appear on the certificate and enter its digest;
    ``personal`` fields (ID numbers, phone numbers) are masked in lists and
    exports and never leave the system in a QR payload or public page.
    """

    name: str
    label: str
    kind: Kind = Text()
    required: bool = False
    help: str = ""
    fieldset: str = "基本信息"
    printed: bool = True
    personal: bool = False
    validate: object = None  # optional callable(value) -> None or raises ValueError(msg)

    @property
    def unit(self):
        return getattr(self.kind, "unit", None)

    @property
    def label_with_unit(self):
        return f"{self.label}（{self.unit}）" if self.unit else self.label

    def clean(self, raw):
        """Turn raw input into a value; ``None`` for blank optional input."""
        if _blank(raw):
            if self.required:
                raise FieldError(self.name, str(_l("%(label)s is required", label=self.label)))
            return None
        try:
            value = self.kind.parse(raw, self.label)
            if self.validate is not None:
                self.validate(value)
        except ValueError as exc:
            raise FieldError(self.name, str(exc)) from None
        return value

    def display(self, value) -> str:
        text = self.kind.to_text(value)
        if self.personal and text:
            return mask(text)
        return text


def mask(text: str) -> str:
    """Mask personal data: keep the first 3 and last 2 characters."""
    if len(text) <= 5:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 5) + text[-2:]


def _project_code_ok(value):
    if not PROJECT_CODE_RE.match(value):
        raise ValueError(_l("项目代码 must look like 2019-410102-47-03-012345 (national investment-project code)"))


#: Fields every permit type has.  A type may relabel them (``labels=``).
COMMON_FIELDS = (
    Field("project_name", "项目名称", Text(200), required=True, fieldset="项目信息"),
    Field("project_code", "项目代码", Text(24), fieldset="项目信息",
          help="全国投资项目在线审批监管平台赋予的项目代码，如 2019-410102-47-03-012345",
          validate=_project_code_ok),
    Field("holder", "持证单位（个人）", Text(200), required=True, fieldset="项目信息"),
    Field("location", "位置", Text(300), required=True, fieldset="项目信息"),
    Field("accepted_on", "受理日期", Date(), fieldset="办理信息", printed=False),
)
COMMON_NAMES = {f.name for f in COMMON_FIELDS}
#: Column names the core uses itself; a type's fields may not take them.
RESERVED_NAMES = COMMON_NAMES | {
    "id", "type_code", "status", "bureau_code", "bureau", "number", "serial", "issued_on",
    "trial", "version", "previous_id", "previous", "payload", "digest", "key_id",
    "revoked_on", "revoke_reason", "revoke_doc", "created_on", "changed_on",
    "created_by", "changed_by", "created_by_fk", "changed_by_fk", "pdf_sha256", "issued_at",
}

_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_LETTERS_RE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class PermitType:
    """The declaration of one permit type (see ``docs/plugins.md``)."""

    code: str
    name: str
    prefix_char: str
    letters: str
    fields: tuple
    certificate_template: str | None = None
    labels: dict = dc_field(default_factory=dict)
    attachment_categories: tuple = ("详细规划", "规划条件", "国有建设用地使用权出让合同或划拨决定书",
                                    "不动产登记证书", "其他")
    #: callable(permit) -> list of attachment categories required before issuing
    required_attachments: object = None
    title: str | None = None
    short_name: str | None = None
    plugin_name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "fields", tuple(self.fields))
        if not _CODE_RE.match(self.code):
            raise ValueError(f"permit type code {self.code!r}: use lower_snake letters, 2-40 characters")
        if not _LETTERS_RE.match(self.letters):
            raise ValueError(f"permit type {self.code}: letters {self.letters!r} must be two capital letters")
        if len(self.prefix_char) != 1:
            raise ValueError(f"permit type {self.code}: prefix_char must be one character")
        seen = set()
        for f in self.fields:
            if f.name in RESERVED_NAMES:
                raise ValueError(f"permit type {self.code}: field name {f.name!r} is reserved by the core")
            if f.name in seen:
                raise ValueError(f"permit type {self.code}: field {f.name!r} declared twice")
            if not re.match(r"^[a-z][a-z0-9_]*$", f.name):
                raise ValueError(f"permit type {self.code}: field name {f.name!r} must be lower_snake")
            seen.add(f.name)
        unknown = set(self.labels) - COMMON_NAMES
        if unknown:
            raise ValueError(f"permit type {self.code}: labels for unknown common fields {sorted(unknown)}")

    @property
    def all_fields(self) -> tuple:
        """Common fields (relabelled for this type) followed by the type's own."""
        common = tuple(
            Field(f.name, self.labels[f.name], f.kind, f.required, f.help, f.fieldset, f.printed,
                  f.personal, f.validate) if f.name in self.labels else f
            for f in COMMON_FIELDS
        )
        return common + self.fields

    def field(self, name) -> Field:
        for f in self.all_fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def printed_fields(self) -> tuple:
        return tuple(f for f in self.all_fields if f.printed)

    @property
    def fieldsets(self) -> list:
        """[(title, [field names])] in declaration order."""
        groups: dict[str, list] = {}
        for f in self.all_fields:
            groups.setdefault(f.fieldset, []).append(f.name)
        return list(groups.items())

    @property
    def certificate_title(self):
        return self.title or self.name

    def clean(self, data: dict, partial: bool = False) -> tuple[dict, dict]:
        """Validate a mapping of raw values.

        Returns ``(values, errors)``: ``errors`` maps field names to Chinese
        messages.  With ``partial`` only the keys present are checked.
        """
        values, errors = {}, {}
        for f in self.all_fields:
            if partial and f.name not in data:
                continue
            try:
                values[f.name] = f.clean(data.get(f.name))
            except FieldError as exc:
                errors[f.name] = exc.message
        return values, errors


class Registry:
    """The permit types of one app, filled through the ``register`` callback."""

    def __init__(self):
        self._types: dict[str, PermitType] = {}

    def register(self, ptype: PermitType, plugin_name: str = "") -> None:
        if not isinstance(ptype, PermitType):
            raise TypeError(f"register() takes a PermitType, got {type(ptype).__name__}")
        if plugin_name and not ptype.plugin_name:
            object.__setattr__(ptype, "plugin_name", plugin_name)
        for other in self._types.values():
            if other.code == ptype.code:
                raise ValueError(
                    f"permit type code {ptype.code!r} is claimed by two plugins: "
                    f"{other.plugin_name or '?'} and {ptype.plugin_name or '?'}")
            if other.letters == ptype.letters:
                raise ValueError(
                    f"type letters {ptype.letters!r} are claimed by two plugins: "
                    f"{other.plugin_name or '?'} ({other.code}) and {ptype.plugin_name or '?'} ({ptype.code})")
        self._types[ptype.code] = ptype

    def __iter__(self):
        return iter(sorted(self._types.values(), key=lambda t: t.code))

    def __getitem__(self, code) -> PermitType:
        return self._types[code]

    def __contains__(self, code):
        return code in self._types

    def __len__(self):
        return len(self._types)

    def get(self, code):
        return self._types.get(code)
