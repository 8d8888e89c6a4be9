"""Translation catalogs: the ``.po`` files under ``translations/<lang>/parts/`` are the source.

Each area of the core keeps its own part (``core.po``, ``numbering.po`` …) so
they can be edited independently; :func:`compile_catalogs` merges the parts
of a language into one ``LC_MESSAGES/messages.mo``, the file Flask-Babel
reads.  It runs in the build (``setup.py``), in ``make`` and, when the
``.mo`` is missing or older than a part, at app start.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).parent / "translations"


def merged_catalog(lang_dir: Path) -> Catalog:
    merged = Catalog(locale=lang_dir.name, domain="messages")
    for part in sorted((lang_dir / "parts").glob("*.po")):
        with part.open("rb") as fh:
            catalog = read_po(fh, locale=lang_dir.name)
        for message in catalog:
            if message.id and message.string:
                merged[message.id] = message
    return merged


def compile_catalogs(root: Path = TRANSLATIONS, force: bool = False) -> list[Path]:
    written = []
    for lang_dir in sorted(p for p in root.iterdir() if (p / "parts").is_dir()):
        mo = lang_dir / "LC_MESSAGES" / "messages.mo"
        parts = list((lang_dir / "parts").glob("*.po"))
        if not force and mo.exists() and all(p.stat().st_mtime <= mo.stat().st_mtime for p in parts):
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        try:
            with mo.open("wb") as fh:
                write_mo(fh, merged_catalog(lang_dir))
        except OSError:  # a read-only install: the build already compiled it
            continue
        written.append(mo)
    return written
