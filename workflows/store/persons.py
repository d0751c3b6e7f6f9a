"""The protected data of a case on SQL: the person record, sealed in `persons` and found by
document number through a blind index, and the free-text task notes, sealed in
`tasks.note`; what the retention purge reads and deletes.

Every value is sealed bound to its row (`persons:<case id>`, `tasks.note:<case id>`), so a
ciphertext copied elsewhere does not open; every plaintext that passes is remembered by the
log redactor (workflows/store/vault.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, select, update

from workflows.domain.case import Case
from workflows.domain.ports import Retained
from workflows.store import tables
from workflows.store.vault import Vault


def sealed_person(vault: Vault, case_id: int, person: dict[str, str]) -> dict[str, Any]:
    """The stored form of a person record: sealed, with its key id and blind index."""
    number = person.get("document_number", "").strip()
    return {
        "payload": vault.seal(json.dumps(person), f"persons:{case_id}"),
        "key_id": vault.primary_id,
        "doc_index": vault.index(number, "document_number") if number else None,
    }


class SqlPersons:
    """The person-record and task-note part of the SQL case repository."""

    def __init__(self, conn: Connection, vault: Vault) -> None:
        self._conn = conn
        self._vault = vault

    def _seal(self, case_id: int, person: dict[str, str]) -> dict[str, Any]:
        self._vault.remember(person.values())
        return sealed_person(self._vault, case_id, person)

    def person(self, case: Case) -> dict[str, str]:
        """The protected person record of a case (empty when none was recorded)."""
        p = tables.persons
        row = self._conn.execute(
            select(p.c.payload, p.c.key_id).where(p.c.case_id == case.id)
        ).first()
        if row is None:
            return {}
        person = dict(json.loads(self._vault.open(row.payload, f"persons:{case.id}")))
        self._vault.remember(person.values())
        return person

    def has_person(self, case: Case) -> bool:
        p = tables.persons
        query = select(p.c.case_id).where(p.c.case_id == case.id)
        return self._conn.execute(query).first() is not None

    def with_document(self, number: str) -> list[str]:
        """References of the cases whose person has this document number (by blind index)."""
        p, c = tables.persons, tables.cases
        hashes = self._vault.lookups(number, "document_number")
        query = (
            select(c.c.ref).join(p, p.c.case_id == c.c.id).where(p.c.doc_index.in_(hashes))
        ).order_by(c.c.opened_at.desc())
        return list(self._conn.execute(query).scalars())

    def holding_personal_data(self, closed_by: datetime) -> list[Retained]:
        c, p, t = tables.cases, tables.persons, tables.tasks
        holds = exists().where(p.c.case_id == c.c.id) | exists().where(
            t.c.case_id == c.c.id, t.c.note.is_not(None)
        )
        query = (
            select(c.c.ref, c.c.protocol_hash, c.c.closed_at)
            .where(c.c.closed_at.is_not(None), c.c.closed_at <= closed_by, holds)
            .order_by(c.c.closed_at)
        )
        return [Retained(r.ref, r.protocol_hash, r.closed_at) for r in self._conn.execute(query)]

    def forget_person(self, case: Case) -> tuple[list[str], int]:
        p, t = tables.persons, tables.tasks
        fields = sorted(self.person(case))
        self._conn.execute(delete(p).where(p.c.case_id == case.id))
        notes = self._conn.execute(
            update(t).where(t.c.case_id == case.id, t.c.note.is_not(None)).values(note=None)
        ).rowcount
        for task in case.tasks:
            task.note = None
        return fields, notes

    def _seal_note(self, case_id: int, note: str | None) -> str | None:
        if not note:
            return note
        self._vault.remember([note])
        return self._vault.seal(note, f"tasks.note:{case_id}")

    def _open_note(self, case_id: int, sealed: str | None) -> str | None:
        return self._vault.open(sealed, f"tasks.note:{case_id}") if sealed else sealed
