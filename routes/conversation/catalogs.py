"""The message catalogs: extracted from the code, updated per language, compiled.

``python -m routes.conversation.catalogs`` re-extracts the template
(``locale/messages.pot``) with Babel from the files ``babel.cfg`` names, merges
it into each language's ``messages.po`` (new texts come in untranslated, gone
ones are dropped) and compiles every ``.po`` to its ``.mo``. Then translate
what is new and run it again. Both ``.po`` and ``.mo`` are committed: the
``.mo`` files are package data, so an install (or a wheel) needs no build step,
and ``tests/routes/conversation/test_catalogs.py`` fails when a catalog is
incomplete, fuzzy, stale or not compiled from its ``.po``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from fsm.languages import LANGUAGES, SOURCE_LANGUAGE
from routes.conversation.i18n import DOMAIN, KEYWORDS, LOCALE_DIR

REPO: Final = Path(__file__).resolve().parents[2]
MAPPING: Final = REPO / "babel.cfg"
TEMPLATE: Final = LOCALE_DIR / f"{DOMAIN}.pot"
TRANSLATED: Final = tuple(language for language in LANGUAGES if language != SOURCE_LANGUAGE)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def extract() -> Catalog:
    """The template as the code is now: every marked text, with where it is used."""
    with MAPPING.open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(  # type: ignore[no-untyped-call]
            file, str(MAPPING))
    template = Catalog(project="orderbot", charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            REPO, method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True):
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)
    return template


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def update() -> None:
    template = extract()
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with TEMPLATE.open("wb") as file:
        write_po(file, template, width=100, omit_header=False)
    for language in TRANSLATED:
        path = po_path(language)
        if path.exists():
            catalog = read(language)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, domain=DOMAIN, project="orderbot")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as file:
            write_po(file, catalog, width=100, ignore_obsolete=True)
        mo_path(language).write_bytes(compiled(read(language)))
        missing = [message.id for message in read(language)
                   if message.id and not message.string]
        print(f"{language}: {len(missing)} untranslated", file=sys.stderr)


if __name__ == "__main__":
    update()
