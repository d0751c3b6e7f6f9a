"""Console translations: gettext catalogues (Babel), compiled in memory from the .po files.

Message ids are English; `ui/locales/<locale>/LC_MESSAGES/messages.po` holds es, pt and en.
The loading (compile in memory, cache) is shared with the email labels: `notifications.catalogues`.
`make i18n` (pybabel extract + update) refreshes them after strings change; a test checks
that every message has a translation in every locale.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations

from notifications import catalogues

LOCALES = ("es", "pt", "en")
LOCALE_NAMES = {"es": "Español", "pt": "Português", "en": "English"}
CATALOGUES = Path(__file__).parent / "locales"


def translations(locale: str) -> NullTranslations:
    """The console catalogue of ``locale``, compiled in memory once (`notifications.catalogues`)."""
    return catalogues.translations(CATALOGUES, locale)


def gettext(locale: str, message: str) -> str:
    return str(translations(locale).gettext(message))


def when(value: datetime | None, locale: str, timezone: str = "UTC") -> str:
    """A date and a time to the minute, in the locale's words and the case's time zone."""
    if value is None:
        return "—"
    zone = ZoneInfo(timezone)
    return f"{format_date(value.astimezone(zone), 'medium', locale=locale)}, " + str(
        format_time(value, "short", tzinfo=zone, locale=locale)
    )


def day(value: date | datetime | None, locale: str) -> str:
    if value is None:
        return "—"
    return str(format_date(value, "medium", locale=locale))


def number(value: float | int, locale: str) -> str:
    return str(format_decimal(value, locale=locale))


def percent(value: float | None, locale: str) -> str:
    return "—" if value is None else str(format_percent(value, locale=locale))
