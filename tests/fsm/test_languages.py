"""Languages in the config and the session (issue 15)."""

from __future__ import annotations

import pytest

from fsm.config import parse_config
from fsm.errors import ConfigError
from fsm.migrations import SCHEMA_VERSION
from fsm.session import Session
from tests.conftest import REPO

DEMO = (REPO / "config.yaml").read_text(encoding="utf-8")


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


def test_languages_default_to_english_and_the_first_is_the_default() -> None:
    config = parse_config(DEMO)
    luigis, sakura = config.restaurants
    assert luigis.languages == ("en", "ar") and luigis.default_language == "en"
    assert sakura.languages == ("en",)
    assert luigis.menu[0].items[1].name == "Marinara"  # the default language's, for staff
    assert luigis.in_language("ar").menu[0].items[1].name == "مارينارا"
    assert luigis.in_language("ar").menu[0].items[0].name == "Margherita"  # given once
    assert (luigis.in_language("ar").branches[0].address or "").startswith("12 شارع")
    assert sakura.in_language("ar") is sakura  # a language it does not speak: its default


def test_a_missing_translation_names_its_path() -> None:
    text = DEMO.replace("name: {en: Marinara, ar: مارينارا}", "name: {en: Marinara}")
    assert problems(text) == [("restaurants[0].menu[0].items[1].name.ar",
                               "missing: restaurants[0].languages has ar")]


def test_an_undeclared_unknown_or_too_long_translation_is_refused() -> None:
    text = DEMO.replace("name: {en: Marinara, ar: مارينارا}",
                        "name: {en: Marinara, ar: مارينارا, fr: Marinara}")
    text = text.replace("title: {en: Pizza, ar: بيتزا}", f"title: {{en: Pizza, ar: {'ب' * 61}}}")
    text = text.replace("languages: [en, ar]", "languages: [en, ar, xx, ar]")
    found = dict(problems(text))
    assert found["restaurants[0].menu[0].items[1].name.fr"] == (
        "fr is not one of restaurants[0].languages")
    assert found["restaurants[0].menu[0].title.ar"] == "at most 60 characters"
    assert found["restaurants[0].languages[3]"].startswith("duplicate language 'ar'")
    assert "unsupported language xx" in found["restaurants[0].languages"]


def test_the_language_is_part_of_the_stored_session() -> None:
    session = Session(language="ar")
    snapshot = session.to_snapshot()
    assert snapshot["v"] == SCHEMA_VERSION == 2 and snapshot["lang"] == "ar"
    assert Session.from_snapshot(snapshot).language == "ar"
    old = {"v": 1, "state": "reviewing_cart", "cart": [], "welcomed": True}
    assert Session.from_snapshot(old).language is None  # v1: the restaurant's default
    assert Session.from_snapshot(old).state == "reviewing_cart"
