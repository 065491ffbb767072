"""The languages a restaurant may speak to its customers, and what customers call them.

A language is a code (``en``, ``ar``, ``fr``) naming both the gettext catalog
of the customer-facing texts and the Babel locale that formats money, numbers
and times. ``en`` is the catalogs' source language (the msgids themselves);
each other code here has a catalog under ``routes/conversation/locale``.
Adding one is adding its code and names here and its catalog there: no code
knows any language by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SOURCE_LANGUAGE: Final = "en"

# Each language's own name first (shown on the buttons that pick it), then other
# names a customer may type to switch to it.
LANGUAGE_NAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "en": ("English", "Anglais", "انجليزي", "الإنجليزية", "الانجليزية"),
    "ar": ("العربية", "عربي", "Arabic", "Arabe"),
    "fr": ("Français", "French", "فرنسي", "الفرنسية"),
}
LANGUAGES: Final = tuple(LANGUAGE_NAMES)


def own_name(language: str) -> str:
    """``language`` as its speakers write it: ``English``, ``العربية``, ``Français``."""
    return LANGUAGE_NAMES.get(language, (language,))[0]
