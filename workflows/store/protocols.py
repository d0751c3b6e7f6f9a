"""The protocol versions cases are pinned to, on SQL (`protocol_versions`).

A pinned definition never changes: it is parsed once per process and kept by content hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from protocols.errors import UnknownProtocol
from protocols.loader import LoadedProtocol, from_definition
from workflows.domain.ports import PinnedVersion
from workflows.store import tables

_PINNED: dict[str, LoadedProtocol] = {}


class SqlProtocolStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def pin(self, loaded: LoadedProtocol, at: datetime) -> None:
        t = tables.protocol_versions
        exists = self._conn.execute(
            select(t.c.content_hash).where(t.c.content_hash == loaded.content_hash)
        ).first()
        if exists is None:
            self._conn.execute(
                insert(t).values(
                    content_hash=loaded.content_hash,
                    protocol_id=loaded.id,
                    version=loaded.protocol.version,
                    definition=loaded.definition,
                    stored_at=at,
                )
            )
        _PINNED.setdefault(loaded.content_hash, loaded)

    def pinned(self, content_hash: str) -> LoadedProtocol:
        if content_hash in _PINNED:
            return _PINNED[content_hash]
        t = tables.protocol_versions
        row = self._conn.execute(
            select(t.c.definition, t.c.protocol_id).where(t.c.content_hash == content_hash)
        ).first()
        if row is None:
            raise UnknownProtocol(
                f"No stored protocol version with hash {content_hash[:12]}; the database lacks "
                "the definition a case was pinned to. Restore `protocol_versions` from a backup."
            )
        loaded = from_definition(row.definition, f"{row.protocol_id}@{content_hash[:12]}")
        _PINNED[content_hash] = loaded
        return loaded

    def hashes(self) -> list[str]:
        p = tables.protocol_versions
        query = select(p.c.content_hash).order_by(p.c.stored_at, p.c.content_hash)
        return list(self._conn.execute(query).scalars())

    def versions(self, protocol_id: str) -> list[PinnedVersion]:
        pv, c = tables.protocol_versions, tables.cases
        query = (
            select(pv.c.version, pv.c.content_hash, pv.c.stored_at, func.count(c.c.id))
            .select_from(pv.outerjoin(c, c.c.protocol_hash == pv.c.content_hash))
            .where(pv.c.protocol_id == protocol_id)
            .group_by(pv.c.version, pv.c.content_hash, pv.c.stored_at)
            .order_by(pv.c.stored_at, pv.c.version)
        )
        return [PinnedVersion(r[0], r[1], r[2], int(r[3])) for r in self._conn.execute(query)]
