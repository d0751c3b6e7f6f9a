"""`ruta demo`: synthetic cases in the seven partner countries at every stage, and one user
per role, so a newcomer sees a working console.

The cases come from the protocol scenarios (protocols/scenarios/*.yaml), replayed against
the real database: each scenario once in full and twice stopped part-way, so there are cases
at every step, some overdue (their clock stopped in the past), some with rejected or
re-routed tasks, and cross-border handoffs with linked cases. A few cases open today, so
inboxes have fresh work. Names and documents are Faker-made and marked synthetic.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from faker import Faker
from sqlalchemy import Engine

from institutions.accounts import hash_password
from institutions.domain import User
from institutions.store import SqlDirectory
from protocols.registry import SCENARIOS_DIR, Registry
from protocols.yamlfile import YamlDocument
from ruta import datadir
from ruta.scenarios import run
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock, SystemClock
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.store.uow import SqlUnitOfWork
from workflows.store.vault import Vault

ALL_COUNTRIES = frozenset({"AR", "BO", "BR", "CO", "EC", "PE", "PY"})
DEMO_USERS = (
    User("fp.colombia", "co-mininterior-coat", "focal_point", frozenset({"CO"})),
    User("fp.peru", "pe-mimp", "focal_point", frozenset({"PE"})),
    User("fp.ecuador", "ec-mininterior-dptt", "focal_point", frozenset({"EC"})),
    User("of.ipiales", "co-alcaldia-ipiales", "officer"),
    User("of.migracion", "co-migracion-rumichaca", "officer"),
    User("of.narino", "co-gobernacion-narino", "officer"),
    User("of.comite", "co-comite-trata-narino", "officer"),
    User("mg.regional", "co-comite-interinstitucional", "manager", ALL_COUNTRIES),
    User("ad.ruta", "co-mininterior-coat", "admin", ALL_COUNTRIES),
)
PAST = timedelta(days=-365)  # scenarios are dated 2026; replayed a year earlier they are history
FRESH = (  # cases opened today, so inboxes have work that is not yet late
    ("CO-TRATA", {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}),
    ("CO-TRATA", {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "EC"}),
    ("PE-TRATA", {"jurisdiction": "PE-PUN", "minor": False, "nationality": "BO"}),
    ("EC-TRATA", {"jurisdiction": "EC-C-0401", "minor": False, "nationality": "CO"}),
    ("BO-TRATA", {"jurisdiction": "BO-L-020804", "minor": False, "nationality": "PE"}),
    ("AR-TRATA", {"jurisdiction": "AR-A-66126", "minor": False, "nationality": "BO"}),
    ("BR-TRATA", {"jurisdiction": "BR-PR-4108304", "minor": False, "nationality": "PY"}),
    ("PY-TRATA", {"jurisdiction": "PY-10-1001", "minor": False, "nationality": "BR"}),
)


@dataclass(frozen=True, slots=True)
class DemoResult:
    cases: int
    users: dict[str, str]  # user name -> password (printed once, also in the credentials file)
    credentials: Path


class SyntheticPeople:
    """Faker people whose names say they are synthetic (never a real person's data)."""

    def __init__(self, seed: int = 2026) -> None:
        self.fake = Faker(["es_CO", "es", "pt_BR"])
        self.fake.seed_instance(seed)

    def __call__(self) -> dict[str, str]:
        f = self.fake
        return {
            "given_name": f.first_name(),
            "family_name": f"{f.last_name()} (sintético)",
            "document_type": "SYN",
            "document_number": f"SYN-{f.numerify('########')}",
            "birth_date": f.date_of_birth(minimum_age=14, maximum_age=60).isoformat(),
        }


def load_demo(engine: Engine, registry: Registry, home: Path, vault: Vault) -> DemoResult:
    """Create the demo users and cases on an initialised database."""
    people = SyntheticPeople()
    count = 0

    def on_demo_db(clock: SimulatedClock, inactive: list[str]) -> Services:
        del inactive  # the demo directory stays whole
        return Services(lambda: SqlUnitOfWork(engine, vault), clock, registry)

    for path in sorted(SCENARIOS_DIR.glob("*.yaml")):
        doc = YamlDocument.read(path)
        total = len(doc.data["steps"])
        for share in (0.35, 0.7, 1.0):
            stop = max(1, int(total * share))
            run(doc, registry, on_demo_db, person=people, steps=stop, shift=PAST)
            count += 1
    today = Services(lambda: SqlUnitOfWork(engine, vault), SystemClock(), registry)
    for protocol_id, attributes in FRESH:
        loaded = registry.latest_published(protocol_id)
        cases.open_case(today, loaded, attributes, Actor.system("demo"), person=people())
        count += 1
    passwords = {u.username: secrets.token_urlsafe(12) for u in DEMO_USERS}
    with engine.begin() as conn:
        store = SqlDirectory(conn)
        for user in DEMO_USERS:
            store.save_user(user, password_hash=hash_password(passwords[user.username]))
    credentials = datadir.private_file(home / "demo-users.txt")  # 0600 before a byte is in it
    credentials.write_text(
        "".join(f"{name}\t{password}\n" for name, password in passwords.items()),
        encoding="utf-8",
    )
    return DemoResult(count, passwords, credentials)
