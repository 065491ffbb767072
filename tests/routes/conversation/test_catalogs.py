"""Every message catalog is complete, current, compiled and keeps its placeholders (issue 15).

The template is extracted afresh from the code (Babel, with ``babel.cfg`` and
the keywords of :mod:`routes.conversation.i18n`) and compared with the
committed ``messages.pot`` and every language's ``messages.po``: a text added,
changed or removed in the code without running ``python -m
routes.conversation.catalogs`` fails here, as does an entry left untranslated
or fuzzy, a ``.mo`` not compiled from its ``.po``, or a translation whose
``{placeholders}`` differ from its msgid's.
"""

from __future__ import annotations

import gettext
import io
import re

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from fsm.languages import LANGUAGES, SOURCE_LANGUAGE
from routes.conversation.catalogs import TEMPLATE, TRANSLATED, compiled, extract, mo_path, read

PLACEHOLDER = re.compile(r"\{(\w*)\}")


def msgids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {message.id if isinstance(message.id, str) else tuple(message.id)
            for message in catalog if message.id}


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract()


def test_every_language_has_a_catalog() -> None:
    assert set(TRANSLATED) == set(LANGUAGES) - {SOURCE_LANGUAGE}
    assert len(TRANSLATED) >= 2  # Arabic and a third language


def test_the_committed_template_is_current(template: Catalog) -> None:
    with TEMPLATE.open("rb") as file:
        committed = read_po(file)
    assert msgids(committed) == msgids(template), (
        "messages.pot is stale: run `python -m routes.conversation.catalogs`")


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalog_has_every_text_of_the_code_and_no_other(language: str,
                                                             template: Catalog) -> None:
    catalog = read(language)
    missing = msgids(template) - msgids(catalog)
    stale = msgids(catalog) - msgids(template)
    assert not missing, f"{language}: not in the catalog (run the catalogs update): {missing}"
    assert not stale, f"{language}: no longer in the code: {stale}"
    assert not catalog.obsolete, f"{language}: obsolete entries {list(catalog.obsolete)}"


def _strings(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return list(message.string)
    return [message.string or ""]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_entry_is_translated_and_not_fuzzy(language: str) -> None:
    catalog = read(language)
    untranslated = [m.id for m in catalog if m.id and not all(_strings(m))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"{language}: untranslated {untranslated}"
    assert not fuzzy, f"{language}: fuzzy {fuzzy}"
    if catalog.num_plurals > 1:
        plurals = [m for m in catalog if m.id and m.pluralizable]
        assert all(len(_strings(m)) == catalog.num_plurals for m in plurals)


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders_of_their_msgid(language: str) -> None:
    """Exactly the msgid's placeholders; a plural form may leave out ``{count}`` (Arabic
    writes "one item" and "two items" as words)."""
    problems = []
    for message in read(language):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        wanted = set().union(*(PLACEHOLDER.findall(msgid) for msgid in ids))
        for form in _strings(message):
            found = set(PLACEHOLDER.findall(form))
            allowed_missing = {"count"} if message.pluralizable else set()
            if found - wanted or wanted - found - allowed_missing:
                problems.append((message.id, form))
    assert not problems, f"{language}: placeholders differ: {problems}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_mo_file_is_compiled_from_the_po_file(language: str) -> None:
    fresh = gettext.GNUTranslations(io.BytesIO(compiled(read(language))))
    with mo_path(language).open("rb") as file:
        committed = gettext.GNUTranslations(file)
    assert committed._catalog == fresh._catalog, (  # type: ignore[attr-defined]
        f"{language}: messages.mo is not compiled from messages.po: run the catalogs update")
