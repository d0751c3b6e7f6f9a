"""What administrators change: the institution directory (an HSDS import)."""

from __future__ import annotations

from institutions.domain import Institution
from workflows.domain.access import Actor, require_admin
from workflows.domain.ports import Services


def import_institutions(svc: Services, actor: Actor, institutions: list[Institution]) -> int:
    """Insert or replace institutions in one commit; return how many."""
    require_admin(actor, "import institutions")
    with svc.uow() as uow:
        count = uow.directory.upsert(institutions)
        uow.commit()
    return count
