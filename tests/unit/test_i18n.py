"""Every console string is translated into Spanish, Portuguese and English."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ui import i18n

ROOT = Path(__file__).resolve().parents[2]


def source_messages() -> set[str]:
    found = extract_from_dir(
        str(ROOT / "ui"), method_map=[("**.py", "python")], keywords={"_": None}
    )
    return {m for _file, _line, m, _comments, _context in found if isinstance(m, str)}


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_console_string_has_a_translation(locale):
    with (i18n.CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=locale)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(source_messages() - translated)
    assert not missing, f"{len(missing)} untranslated in {locale} (run `make i18n`): {missing}"


def test_the_console_translates_and_formats_for_the_locale():
    assert i18n.gettext("es", "Sign in") == "Ingresar"
    assert i18n.gettext("pt", "Sign in") == "Entrar"
    assert i18n.percent(0.5, "es") != i18n.percent(0.5, "en")
