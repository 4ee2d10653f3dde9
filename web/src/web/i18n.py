"""Gettext through Babel: English and Korean catalogs, kept as .po files in the
repository and compiled in memory when the app starts (no generated binary to drift).
The language comes from the `lang` cookie (the switch on every page), else from
Accept-Language."""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "ko": "한국어"}
DEFAULT = "en"

current: ContextVar[str] = ContextVar("language", default=DEFAULT)


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=language)
    mo = BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return cookie
    wanted = []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag and tag != "*":
            wanted.append(tag)
    try:
        found = Locale.negotiate(wanted, list(LANGUAGES), sep="_")
    except (UnknownLocaleError, ValueError):
        found = None
    return str(found.language) if found else DEFAULT


def gettext_(message: str) -> str:
    return translations(current.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current.get()).ngettext(singular, plural, n)


def extract() -> set[str]:
    """Every message the code and templates ask gettext for (what the catalogs must
    cover); a test holds the .po files to it."""
    from babel.messages.extract import extract_from_dir

    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = extract_from_dir(
        Path(__file__).parent,
        method_map=method_map,
        options_map=options,
        keywords={"_": None, "gettext_": None, "ngettext_": (1, 2), "N_": None},
    )
    return {message if isinstance(message, str) else message[0] for *_, message, _, _ in found}
