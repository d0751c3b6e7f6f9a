"""Who does what: institutions, the protocol roles they fill, where, and their users."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, get_args

# A jurisdiction is a country (`CO`), an ISO 3166-2 subdivision (`CO-NAR`, `PE-PUN`, `EC-C`)
# or a municipality inside one, by its official statistics code (DANE, INEI ubigeo, INEC):
# `CO-NAR-52356` is Ipiales, Narino.
JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3}(-[0-9]{2,7})?)?$")
JURISDICTION_HELP = (
    "a country code (CO), an ISO 3166-2 subdivision (CO-NAR) or a subdivision plus the "
    "official municipal code (CO-NAR-52356)"
)
LOCALES = ("es", "pt", "en")
INSTITUTION_ID = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
NAME_LENGTH = 200  # institutions.name is a String(200): PostgreSQL refuses longer, SQLite not

UserRole = Literal["focal_point", "officer", "manager", "admin"]
USER_ROLES: tuple[str, ...] = get_args(UserRole)


def jurisdiction_chain(jurisdiction: str) -> list[str]:
    """The jurisdiction and each one containing it, most specific first."""
    parts = jurisdiction.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def level(jurisdiction: str) -> Literal["national", "subdivision", "municipal"]:
    return ("national", "subdivision", "municipal")[jurisdiction.count("-")]


@dataclass(frozen=True, slots=True)
class Institution:
    """A public body or organisation with an inbox: it fills protocol roles somewhere."""

    id: str
    country: str
    jurisdiction: str
    name: str
    roles: tuple[str, ...]
    emails: tuple[str, ...] = ()
    locale: str = "es"
    active: bool = True
    description: str = ""

    def problems(self) -> list[str]:
        """What is wrong with this record, in words; empty when it is valid."""
        out = []
        if not INSTITUTION_ID.match(self.id):
            out.append(
                f"id {self.id!r} must be lowercase letters, digits and hyphens (co-icbf-narino)"
            )
        if not re.fullmatch(r"[A-Z]{2}", self.country):
            out.append(f"country {self.country!r} must be an ISO 3166-1 alpha-2 code such as CO")
        if not JURISDICTION.match(self.jurisdiction):
            out.append(f"jurisdiction {self.jurisdiction!r} must be {JURISDICTION_HELP}")
        elif self.jurisdiction[:2] != self.country:
            out.append(f"jurisdiction {self.jurisdiction!r} is not in country {self.country}")
        if not self.name.strip():
            out.append("name is empty")
        elif len(self.name) > NAME_LENGTH:
            out.append(f"name is longer than {NAME_LENGTH} characters")
        for role in self.roles:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", role):
                out.append(f"role {role[:70]!r} must be a protocol role id such as icbf")
        for email in self.emails:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", email):
                out.append(f"email {email!r} is not an address")
        if self.locale not in LOCALES:
            out.append(f"locale {self.locale!r} must be one of {', '.join(LOCALES)}")
        return out


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in: one institution, one role, the countries they may see."""

    username: str
    institution: str
    role: UserRole
    countries: frozenset[str] = field(default_factory=frozenset)
    active: bool = True
    email: str | None = None  # escalations to managers go here


@dataclass(frozen=True, slots=True)
class Route:
    """Where a task goes: the institution, and whether the directory had nobody for the role."""

    institution: str
    gap: bool = False
