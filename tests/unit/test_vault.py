"""The vault: authenticated encryption bound to its row, key rings, blind indexes, redaction."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ruta.logs import redacting_factory
from workflows.domain.attributes import normalise_document
from workflows.store.redactor import Redactor
from workflows.store.vault import (
    Vault,
    VaultError,
    new_key,
    parse_key,
    sealed_key_id,
)

K1, K2 = new_key(), new_key()


def vault(*texts: str) -> Vault:
    return Vault.from_text(list(texts), "test")


@given(st.text())
def test_what_is_sealed_opens_only_in_its_place(text):
    v = vault(K1)
    token = v.seal(text, "persons:1")
    assert v.open(token, "persons:1") == text
    with pytest.raises(VaultError, match="altered or belongs elsewhere"):
        v.open(token, "persons:2")


def test_the_same_text_seals_differently_each_time():
    v = vault(K1)
    assert v.seal("Zorbalina", "persons:1") != v.seal("Zorbalina", "persons:1")


def test_an_altered_value_is_refused_not_misread():
    v = vault(K1)
    token = v.seal("Zorbalina Sintética", "persons:1")
    head, body = token.rsplit(".", 1)
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    with pytest.raises(VaultError, match="persons:1: the sealed value does not open"):
        v.open(f"{head}.{flipped}", "persons:1")
    with pytest.raises(VaultError, match=r"not a sealed value \(expected v1"):
        v.open("Zorbalina", "persons:1")


def test_a_ring_opens_with_every_key_and_seals_with_the_first():
    old = vault(K1)
    token = old.seal("Zorbalina", "persons:1")
    ring = vault(K2, K1)
    assert ring.open(token, "persons:1") == "Zorbalina"
    assert sealed_key_id(ring.seal("x", "persons:1")) == ring.primary_id != old.primary_id
    retired = vault(K2)
    with pytest.raises(VaultError, match=f"sealed under key {old.primary_id}, which this"):
        retired.open(token, "persons:1")


def test_a_ring_reloads_when_its_source_changes():
    source = {"now": [parse_key(K1, "test")]}
    v = Vault(source["now"], reload=lambda: source["now"])
    rotated = vault(K2, K1)  # another process rotated the key file already
    token = rotated.seal("Zorbalina", "persons:1")
    source["now"] = [parse_key(K2, "test"), parse_key(K1, "test")]
    assert v.open(token, "persons:1") == "Zorbalina"
    assert v.primary_id == rotated.primary_id


def test_keys_that_are_not_keys_are_refused_without_being_echoed():
    with pytest.raises(VaultError) as caught:
        Vault.from_text(["hunter2-not-a-key"], "RUTA_SECRET_KEY")
    assert "RUTA_SECRET_KEY, key 1: not a Ruta key" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(VaultError, match="No encryption key"):
        Vault([])


def test_blind_indexes_match_however_the_number_is_typed_and_differ_per_key():
    v = vault(K1)
    assert normalise_document(" ab-123.456 ") == "AB123456"
    assert v.index("AB-123.456", "document_number") == v.index("ab123456", "document_number")
    assert v.index("AB123456", "document_number") != v.index("AB123457", "document_number")
    assert v.index("AB123456", "document_number") != vault(K2).index("AB123456", "document_number")
    assert "AB123456" not in v.index("AB123456", "document_number")
    assert vault(K2, K1).lookups("AB123456", "document_number")[1] == v.index(
        "AB123456", "document_number"
    )


def test_the_redactor_strikes_remembered_values_and_forgets_the_oldest():
    r = Redactor(capacity=2)
    r.remember(["Zorbalina", "Quintanar (sintético)", "EC"])
    assert r.redact("for Zorbalina Quintanar (sintético) in EC") == (
        "for [redacted] [redacted] in EC"
    )
    r.remember(["SYN-00000001"])
    assert "Zorbalina" in r.redact("Zorbalina")  # pushed out by the newer values


def test_log_records_are_redacted_as_they_are_made(caplog):
    r = Redactor()
    v = Vault.from_text([K1], "test", redactor=r)
    token = v.seal('{"given_name": "Zorbalina"}', "persons:7")
    v.remember(["Zorbalina"])
    v.open(token, "persons:7")
    before = logging.getLogRecordFactory()
    logging.setLogRecordFactory(redacting_factory(before, r))
    try:
        log = logging.getLogger("ruta.test")
        with caplog.at_level(logging.INFO):
            log.info("opened the record of %s", "Zorbalina")
            try:
                raise ValueError("bad value Zorbalina")
            except ValueError:
                log.exception("failed")
    finally:
        logging.setLogRecordFactory(before)
    assert "Zorbalina" not in caplog.text
    assert "opened the record of [redacted]" in caplog.text
    assert "bad value [redacted]" in caplog.text
