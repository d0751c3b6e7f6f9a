"""Gettext catalogues (Babel) compiled in memory from .po files, one per directory and locale.

`translations(directory, locale)` reads `<directory>/<locale>/LC_MESSAGES/messages.po`,
compiles it in memory (no .mo files to build or commit) and caches the result for the
process. A missing catalogue gives `NullTranslations`, which returns every message id
unchanged. Fuzzy entries are left out, so an unreviewed translation never shows.

Used by `notifications.labels` (reason labels, `notifications/locales/`) and by the console
(`ui/i18n.py`, `ui/locales/`). Generic on purpose: it knows no package's messages.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DOMAIN = "messages"


@cache
def translations(directory: Path, locale: str) -> NullTranslations:
    """The catalogue of ``locale`` under ``directory``, compiled in memory and cached."""
    po = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)
