"""No leaks: every scenario runs with an obviously synthetic person whose name and document
number must then appear nowhere outside the sealed record: not in any table, log line
(SQL statements and their parameters included), email, outbox row, exception message, or
Prefect flow parameter."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from notifications.senders import InMemoryEmailSender
from protocols.registry import SCENARIOS_DIR, Registry
from protocols.yamlfile import YamlDocument
from ruta import bootstrap, flows, logs
from ruta.db import METADATA
from ruta.scenarios import run
from tests.conftest import VAULT
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import ReferralEngineError
from workflows.domain.ports import Services
from workflows.services.dispatch import dispatch


def _one_per_protocol() -> list[Path]:
    """The longest scenario of each protocol (the one that touches the most): every country
    and programme is covered while `make test` stays short; the demo test covers the rest."""
    chosen: dict[str, Path] = {}
    for path in sorted(SCENARIOS_DIR.glob("*.yaml")):
        data = YamlDocument.read(path).data
        best = chosen.get(data["protocol"])
        if best is None or len(data["steps"]) > len(YamlDocument.read(best).data["steps"]):
            chosen[data["protocol"]] = path
    return sorted(chosen.values())


SCENARIOS = _one_per_protocol()


class Person:
    """A new synthetic person per case, with values no protocol, seed or template contains."""

    def __init__(self, tag: str) -> None:
        self.tag, self.made = tag, 0

    def __call__(self) -> dict[str, str]:
        self.made += 1
        return {
            "given_name": f"Zorbalina{self.tag}x{self.made}",
            "family_name": f"Quintanar{self.tag}x{self.made} (sintético)",
            "document_type": "SYN",
            "document_number": f"SYN-LEAK-{self.tag}-{self.made:03d}",
            "phone": f"+00 555 {self.made:04d} {self.tag}",
            "narrative": f"Relato sintético {self.tag} número {self.made}",
        }

    def secrets(self) -> list[str]:
        return [
            v
            for i in range(1, self.made + 1)
            for v in (
                f"Zorbalina{self.tag}x{i}",
                f"Quintanar{self.tag}x{i}",
                f"SYN-LEAK-{self.tag}-{i:03d}",
                f"555 {i:04d} {self.tag}",
                f"{self.tag} número {i}",
            )
        ]


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The message of every referral-engine error raised, caught or not."""
    seen: list[str] = []
    original = ReferralEngineError.__init__

    def recording(self: ReferralEngineError, *args: object) -> None:
        seen.append(" ".join(str(a) for a in args))
        original(self, *args)

    monkeypatch.setattr(ReferralEngineError, "__init__", recording)
    return seen


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_a_scenario_leaves_the_person_nowhere_but_the_sealed_record(path, caplog, errors):
    person = Person(str(SCENARIOS.index(path)))
    made: list[Services] = []

    def on_db(clock: SimulatedClock, inactive: list[str]) -> Services:
        made.append(bootstrap.scenario_services(clock, inactive, vault=VAULT))
        return made[-1]

    logging.setLogRecordFactory(logs.redacting_factory())
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # statements and values
    try:
        result = run(YamlDocument.read(path), Registry.scan(), on_db, person=person)
        (svc,) = made
        sender = InMemoryEmailSender()
        while dispatch(svc, sender, "https://ruta.example.org", limit=500).claimed:
            pass
        with svc.uow() as uow:  # every row of every table, the sealed person record included
            dumped = [
                str(list(row))
                for metadata in METADATA
                for table in metadata.sorted_tables
                for row in uow.connection.execute(select(table))  # type: ignore[attr-defined]
            ]
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
        logging.setLogRecordFactory(logging.LogRecord)
    assert result.passed, [s.differences for s in result.steps if not s.ok]
    assert person.made >= 1
    places = {
        "database": "\n".join(dumped),
        "logs": caplog.text,
        "emails": "\n".join(repr(e) for e in sender.sent),
        "errors": "\n".join(errors),
    }
    assert sender.sent, "the scenario sends emails, so they are checked"
    assert "sqlalchemy.engine" in caplog.text, "SQL logging was on, so it is checked"
    for secret in person.secrets():
        for place, text in places.items():
            assert secret not in text, f"{secret!r} leaked into {place}"


def test_prefect_flows_take_no_parameters():
    """Nothing about a person can reach Prefect's database through a flow run."""
    for made in (flows.deadline_sweep, flows.outbox_dispatch, flows.nightly):
        assert made.parameters.properties == {}, made.name
        assert not inspect.signature(made.fn).parameters, made.name
