"""Every string the project passes to gettext has a Chinese translation, and FAB's gaps are filled."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from core.i18n import TRANSLATIONS, merged_catalog

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None, "ngettext": (1, 2)}

#: strings FAB 5.3 passes to gettext that its own zh catalog lacks (checked by test_fab_gaps_filled)
FAB_GAPS = ["Add", "Edit", "Show", "Delete", "Groups", "List Groups", "Show Group", "Add Group", "Edit Group",
            "Are you sure you want to delete this item?", "Edit User Information", "User information changed",
            "Contains (insensitive)", "In", "Not In", "Database Error", "Either select a role or a group",
            "The user's password for authentication", "User(s) exists in the role, cannot delete",
            "User(s) exists in the group, cannot delete"]


def project_messages():
    for package in ("core", "plugins"):
        for filename, _lineno, message, _comments, _ctx in extract_from_dir(
                ROOT / package, METHOD_MAP, keywords=KEYWORDS,
                options_map={"**/templates/**.html": {"extensions": "jinja2.ext.do"}}):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                yield f"{package}/{filename}", msgid


def test_every_project_string_has_a_chinese_translation():
    catalog = merged_catalog(TRANSLATIONS / "zh")
    missing = sorted({f"{where}: {msgid!r}" for where, msgid in project_messages()
                      if msgid not in catalog or not catalog[msgid].string})
    assert not missing, "untranslated:\n" + "\n".join(missing)


def test_fab_gaps_filled():
    catalog = merged_catalog(TRANSLATIONS / "zh")
    assert [m for m in FAB_GAPS if m not in catalog] == []
    assert catalog["Add"].string == "新增"
    assert catalog["Delete"].string == "删除"


def test_translations_are_not_english_copies():
    catalog = merged_catalog(TRANSLATIONS / "zh")
    same = [m.id for m in catalog if m.id and m.string == m.id and any(c.isalpha() and c.isascii() for c in m.id)]
    assert same == []
