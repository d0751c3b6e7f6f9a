"""A reveal or a document search when the key that sealed the person record is missing or
wrong: one translated line, no Streamlit traceback, and nothing is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from protocols.registry import Registry
from ruta.keys import KeyFile
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import ReferralEngineError, SealedDataUnavailable
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.store.uow import SqlUnitOfWork
from workflows.store.vault import Vault, VaultError, new_key

CO_ATTRS = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
SYNTHETIC = {"given_name": "Prueba", "family_name": "Sintética", "document_number": "X-000"}
UNAVAILABLE = {
    "en": "Personal data cannot be opened: the encryption key is missing or wrong.",
    "es": "No se pueden abrir los datos personales: falta la clave de cifrado o no es la correcta.",
    "pt": "Não é possível abrir os dados pessoais: a chave de criptografia falta ou está errada.",
}


def wrong_key(tmp_path: Path) -> Vault:
    return Vault.from_text([new_key()], "another installation's key")


def missing_key_file(tmp_path: Path) -> Vault:
    """The key file is read, then deleted: the next open reads it again and finds nothing."""
    path = tmp_path / "secret.key"
    source = KeyFile(path)
    source.write([new_key()])
    vault = Vault(source.keys(), reload=source.keys)
    path.unlink()
    return vault


@pytest.fixture(params=[wrong_key, missing_key_file], ids=["wrong_key", "missing_key_file"])
def broken_svc(request, console_engine: Engine, clock: SimulatedClock, tmp_path) -> Services:
    return Services(
        lambda: SqlUnitOfWork(console_engine, request.param(tmp_path)), clock, Registry.scan()
    )


def test_the_vault_error_is_no_engine_error():
    # the engine records a refused follow-up (a ReferralEngineError) and carries on; a missing
    # key must not be taken for one
    assert issubclass(VaultError, SealedDataUnavailable)
    assert not issubclass(SealedDataUnavailable, ReferralEngineError)


@pytest.mark.parametrize("locale", ["es", "pt", "en"])
def test_a_reveal_without_the_right_key_is_one_translated_line(
    console, console_svc, broken_svc, locale
):
    ref = cases.open_case(
        console_svc,
        console_svc.catalog.latest_published("CO-TRATA"),
        CO_ATTRS,
        Actor.system("test"),
        person=SYNTHETIC,
    )
    at = console("fp.co", locale=locale)
    at.session_state["services"] = broken_svc
    at.query_params["case"] = ref
    at.run()
    at.button(key="cases_reveal").click().run()
    at.selectbox(key="cases_reveal_reason").select("contact_person").run()
    at.button(key="cases_reveal_show").click().run()
    assert not at.exception
    [error] = at.error
    assert error.value.startswith(UNAVAILABLE[locale])
    assert "\n" not in error.value
    assert not any("Prueba" in str(t.value) for t in at.table)


def test_a_document_search_without_the_key_file_is_one_line(
    console, console_svc, console_engine, tmp_path
):
    cases.open_case(
        console_svc,
        console_svc.catalog.latest_published("CO-TRATA"),
        CO_ATTRS,
        Actor.system("test"),
        person=SYNTHETIC,
    )
    vault = missing_key_file(tmp_path)
    at = console("fp.co", locale="es")
    at.session_state["services"] = Services(
        lambda: SqlUnitOfWork(console_engine, vault), console_svc.clock, console_svc.catalog
    )
    at.run()
    at.text_input(key="cases_doc_number").input("X-000")
    at.selectbox(key="cases_doc_reason").select("verification")
    at.button[[b.label for b in at.button].index("Buscar")].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        UNAVAILABLE["es"] + " Pida a la administración que la restaure (ruta keys status)."
    ]
