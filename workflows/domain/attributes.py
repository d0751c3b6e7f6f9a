"""What a case may carry: non-identifying attributes the protocol allows, and the person
fields that go to the protected person record instead."""

from __future__ import annotations

import re
from typing import Any

from institutions.domain import JURISDICTION, JURISDICTION_HELP
from protocols.schema import BUILTIN_ATTRIBUTES, PERSON_FIELDS, RISK_LEVELS, Protocol
from workflows.domain.errors import InvalidInput


def check_attributes(protocol: Protocol, values: dict[str, Any], opening: bool) -> dict[str, Any]:
    """Validate case attributes: the built-in ones plus those the protocol declares."""
    declared = protocol.attributes
    allowed = [*BUILTIN_ATTRIBUTES, *declared]
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name == "jurisdiction":
            ok = (
                isinstance(value, str)
                and bool(JURISDICTION.match(value))
                and (value[:2] == protocol.country)
            )
            want = f"a jurisdiction of {protocol.country}: {JURISDICTION_HELP}"
        elif name == "minor":
            ok, want = isinstance(value, bool), "true or false"
        elif name == "nationality":
            ok = isinstance(value, str) and bool(re.fullmatch(r"[A-Z]{2}", value))
            want = "an ISO 3166-1 alpha-2 code such as VE"
        elif name == "risk":
            ok, want = value in RISK_LEVELS, f"one of {', '.join(RISK_LEVELS)}"
        elif name in declared:
            options = declared[name].values
            ok = options is None or value in options
            want = f"one of {', '.join(options or [])}"
        else:
            raise InvalidInput(
                f"Unknown case attribute {name!r}; allowed: {', '.join(allowed)}. Personal "
                "data (names, documents, contacts) goes to the protected person record."
            )
        if not ok:
            raise InvalidInput(f"Case attribute {name!r} cannot be {value!r}; use {want}.")
        clean[name] = value
    if opening:
        missing = [k for k in ("jurisdiction", "minor") if k not in clean]
        if missing:
            raise InvalidInput(f"Opening a case needs the attribute(s): {', '.join(missing)}.")
    return clean


def check_person(person: dict[str, str]) -> None:
    """A person record holds only the known person fields."""
    unknown = sorted(set(person) - set(PERSON_FIELDS))
    if unknown:
        raise InvalidInput(
            f"Unknown person field(s) {', '.join(unknown)}; allowed: {', '.join(PERSON_FIELDS)}."
        )


MIN_DOCUMENT = 4  # shorter numbers would match too many people


def normalise_document(value: str) -> str:
    """Document numbers match however they were typed: `AB-123.456` is `AB123456`."""
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def check_document(number: str) -> None:
    """A document number to look up is long enough to name one person."""
    if len(normalise_document(number)) < MIN_DOCUMENT:
        raise InvalidInput(
            f"A document number has at least {MIN_DOCUMENT} letters or digits; "
            "write it whole (spaces, dots and dashes do not matter)."
        )
