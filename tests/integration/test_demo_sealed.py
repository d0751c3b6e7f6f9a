"""Acceptance: after the demo, no demo person's name or document number is in the database's
bytes: the SQLite file (and its journal) or a `pg_dump` of PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy import Engine, select

from protocols.registry import Registry
from ruta.bootstrap import seed_directory
from ruta.demo import load_demo
from tests.conftest import VAULT
from workflows.store import tables


def database_bytes(engine: Engine) -> bytes:
    if engine.dialect.name == "sqlite":
        main = Path(str(engine.url.database))
        return b"".join(p.read_bytes() for p in main.parent.glob(f"{main.name}*"))
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(
        ["pg_dump", "--data-only", f"--dbname={url}"], check=True, capture_output=True
    ).stdout


def test_no_demo_person_is_readable_in_the_stored_bytes(engine, tmp_path):
    seed_directory(engine)  # what `ruta init` does before `ruta demo`
    load_demo(engine, Registry.scan(), tmp_path, VAULT)
    with engine.connect() as conn:
        rows = conn.execute(select(tables.persons.c.case_id, tables.persons.c.payload)).all()
    people = [json.loads(VAULT.open(r.payload, f"persons:{r.case_id}")) for r in rows]
    assert len(people) >= 50
    engine.dispose()  # everything written out, nothing held in a connection
    stored = database_bytes(engine)
    assert b"CO-TRATA" in stored  # the bytes are the database's, readable where not sealed
    for person in people:
        for secret in (
            f"{person['given_name']} {person['family_name']}",
            person["family_name"],  # "<surname> (sintético)": never in seeds or protocols
            person["document_number"],
        ):
            for form in (secret, json.dumps(secret)[1:-1]):  # as text, and as JSON writes it
                assert form.encode() not in stored, f"{secret!r} is readable in the database"
