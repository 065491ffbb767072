"""Menu texts written once for every language or per language (``{en: …, ar: …}``)."""

from contextvars import ContextVar
from typing import Any, ClassVar

from pydantic import Field, model_validator

from fsm.frozen import Frozen
from fsm.languages import SOURCE_LANGUAGE

# The restaurant's default language, whose text a translated field holds; set by Restaurant.
default_language: ContextVar[str] = ContextVar("fsm.menu language", default=SOURCE_LANGUAGE)


class Translated(Frozen):
    """A model whose text fields (:attr:`TEXTS`) may be written once for all languages or
    per language (``name: {en: Margherita, ar: مارغريتا}``).

    The field itself holds the restaurant's default language; ``translations``
    holds every language given, by field: ``{"name": {"en": …, "ar": …}}``.
    :meth:`Restaurant.in_language` swaps them in. Whether every declared
    language is given is checked by :func:`fsm.config.parse_config`, which
    names the path of a missing one.
    """

    TEXTS: ClassVar[tuple[str, ...]] = ()
    translations: dict[str, dict[str, str]] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _per_language(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(isinstance(data.get(key), dict)
                                                 for key in cls.TEXTS):
            return data
        data = dict(data)
        translations: dict[str, dict[str, str]] = {}
        default = default_language.get()
        for key in cls.TEXTS:
            texts = data.get(key)
            if isinstance(texts, dict):
                given = {str(language): text for language, text in texts.items()
                         if isinstance(text, str)}
                translations[key] = given
                # A missing default is reported by fsm.config; validate what there is.
                data[key] = given.get(default, next(iter(given.values()), None))
        data["translations"] = translations
        return data

    def texts(self, key: str) -> tuple[str, ...]:
        """Every language's text of field ``key``, the shown one first."""
        shown = getattr(self, key)
        return (shown, *(text for text in self.translations.get(key, {}).values()
                         if text != shown))

    def _in(self, language: str, **update: Any) -> dict[str, Any]:
        changes = {key: texts[language] for key, texts in self.translations.items()
                   if language in texts}
        return {**changes, **update}
