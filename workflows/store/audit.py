"""The tamper-evident event log: every event carries the previous event's hash.

`hash = sha256(canonical JSON of {case_id, at, actor, kind, track, data, prev})`, with
`sort_keys` and no spaces, from the genesis hash "0" * 64. Appends are serialised by locking
the one-row `audit_head` before reading it (workflows/store/cases.py), so concurrent writers
never fork the chain; database triggers refuse UPDATE and DELETE on `events`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def chain_hash(event: Mapping[str, Any], prev: str) -> str:
    at = event["at"]
    assert isinstance(at, datetime)
    body = {
        "case_id": event["case_id"],
        "at": at.astimezone(UTC).isoformat(),
        "actor": event["actor"],
        "kind": event["kind"],
        "track": event["track"],
        "data": event["data"],
        "prev": prev,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
