"""Reads of the Institutions screen (administrators): the directory, its HSDS export, and
the routing gaps that say which roles it still lacks. Public data and counts only."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from institutions.domain import Institution
from institutions.hsds import write_hsds
from workflows.domain.access import Actor, require_admin
from workflows.domain.ports import Services


def directory_rows(
    svc: Services, actor: Actor, country: str | None = None, role: str | None = None
) -> list[Institution]:
    """The directory's institutions (of a country, filling a role), for the admin."""
    require_admin(actor, "read the institution directory")
    with svc.uow() as uow:
        found = uow.directory.institutions(country)
    return [i for i in found if role is None or role in i.roles]


def hsds_zip(institutions: list[Institution]) -> bytes:
    """The institutions as an HSDS 3.0 tabular package (CSV files), zipped for download."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="ruta-hsds-") as folder:
        written = write_hsds(institutions, Path(folder), "csv")
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written:
                archive.write(path, path.name)
    return buffer.getvalue()


def gaps_for_admin(svc: Services, actor: Actor) -> list[tuple[str, str, int]]:
    """(country, role, tasks) routed to a coordinator because nobody filled the role.

    Counts only: they tell the admin which roles the directory still lacks, in the countries
    of their scope (every country with cases when their scope is empty).
    """
    require_admin(actor, "read routing gaps")
    with svc.uow() as uow:
        scope = set(actor.countries) or set(uow.inbox.countries())
        return uow.inbox.routing_gaps(scope)
