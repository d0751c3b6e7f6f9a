"""The log redactor strikes a personal value however it is written: case, accents, spacing,
and the separators in document and phone numbers."""

from __future__ import annotations

import unicodedata

from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from workflows.store.redactor import MASK, Redactor, fold

fake = Faker(["es_CO", "pt_BR"])
fake.seed_instance(15)
NAME = f"{fake.first_name()} José {fake.last_name()} Peña"  # accents, whatever Faker gives
DOCUMENT = "SYN-" + fake.numerify("#########")
PHONE = "+57 " + fake.numerify("3## ### ####")


def redactor(*values: str) -> Redactor:
    r = Redactor()
    r.remember(values)
    return r


def unaccented(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def test_a_name_in_another_case_without_accents_or_respaced_is_struck():
    r = redactor(NAME)
    for written in (NAME, NAME.upper(), NAME.lower(), unaccented(NAME), NAME.replace(" ", "   ")):
        out = r.redact(f"looked up {written} at the desk")
        assert out == f"looked up {MASK} at the desk", written


def test_a_document_number_in_lower_case_or_spaced_differently_is_struck():
    r = redactor(DOCUMENT)
    digits = DOCUMENT[4:]
    for written in (
        DOCUMENT.lower(),
        f"SYN {digits[:3]} {digits[3:6]} {digits[6:]}",
        f"syn.{digits[:3]}.{digits[3:]}",
        f"SYN{digits}",
    ):
        assert r.redact(f"document {written}.") == f"document {MASK}.", written


def test_a_reformatted_phone_number_is_struck():
    r = redactor(PHONE)
    digits = "".join(c for c in PHONE if c.isdigit())
    for written in (digits, f"({digits[:2]}) {digits[2:5]}-{digits[5:8]}-{digits[8:]}"):
        assert MASK in r.redact(f"call {written} now"), written
        assert digits[2:] not in "".join(c for c in r.redact(f"call {written}") if c.isdigit())


def test_values_shorter_than_four_characters_are_not_struck():
    r = redactor("EC", "Ana", "M", " é ")
    assert r.redact("Ana from EC, M") == "Ana from EC, M"


def test_text_around_a_value_is_kept_as_written():
    r = redactor("Zorbalina")
    assert (
        r.redact("Caso CO-2026-000042: ZORBALÍNA, 3 días") == f"Caso CO-2026-000042: {MASK}, 3 días"
    )


def test_the_redactor_forgets_the_oldest_values_beyond_its_capacity():
    r = Redactor(capacity=2)
    r.remember(["Zorbalina", "Quintanar", "SYN-00000001"])
    assert r.redact("Zorbalina Quintanar syn 00000001") == f"Zorbalina {MASK} {MASK}"


def test_fold_maps_each_character_back_to_where_it_came_from():
    folded, origin = fold("Ñu  É-1", compact=False)
    assert folded == "nu e-1"
    assert ["Ñu  É-1"[i] for i in origin] == ["Ñ", "u", " ", "É", "-", "1"]
    assert fold("Ñu  É-1", compact=True)[0] == "nue1"


separator = st.sampled_from(["", " ", ".", "-", "  "])
letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyzáéíóúñç", min_size=4, max_size=12)


@given(
    digits=st.text(alphabet="0123456789", min_size=6, max_size=12),
    cuts=st.lists(separator, min_size=12, max_size=12),
    upper=st.booleans(),
)
def test_any_spacing_of_a_document_number_is_struck(digits, cuts, upper):
    value = f"SYN-{digits}"
    r = redactor(value)
    written = "syn" + "".join(d + cut for d, cut in zip(digits, cuts, strict=False))
    written = written.upper() if upper else written
    out = r.redact(f"doc: {written} ok")
    assert digits not in "".join(c for c in out if c.isdigit())
    assert out.startswith("doc: ")
    assert out.endswith(" ok")


@given(
    words=st.lists(letters, min_size=1, max_size=3),
    gaps=st.lists(st.sampled_from([" ", "  ", "\t", " \n "]), min_size=3, max_size=3),
    upper=st.booleans(),
    strip_accents=st.booleans(),
)
def test_any_casing_accents_or_spacing_of_a_name_is_struck(words, gaps, upper, strip_accents):
    value = " ".join(words)
    r = redactor(value)
    written = "".join(w + g for w, g in zip(words, gaps, strict=False)).rstrip()
    written = written.upper() if upper else written
    written = unaccented(written) if strip_accents else written
    out = r.redact(f"1 {written} 2")
    assert fold(value, compact=False)[0] not in fold(out, compact=False)[0]
    assert out.startswith("1 ")
    assert out.endswith(" 2")
