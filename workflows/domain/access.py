"""Who may do what, checked in the service layer whatever the console shows.

- A focal point reads and changes cases of the countries in their scope, and makes the
  requester's task moves (cancel, refer a returned task elsewhere).
- An institution officer reads and acts only on tasks addressed to their institution (a
  focal point whose institution a task is addressed to may act on it too).
- A manager reads compliance figures for their countries; no case, no identity.
- An admin keeps the directory; no case data.
- A decision (an approval, an extension) is for the role the protocol names: an officer
  records it only if the case routes that role to their institution (or to one up the
  case's jurisdiction chain that also fills it).
- The system (sweep, scenario runner, engine tests) may do everything.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from institutions.domain import User
from workflows.domain.case import Case, Task
from workflows.domain.errors import NotAuthorised

ActorRole = Literal["focal_point", "officer", "manager", "admin", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Whoever acts: a signed-in user or the system. `name` goes into events."""

    name: str
    role: ActorRole
    institution: str | None = None
    countries: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, user: User) -> Actor:
        if not user.active:
            raise NotAuthorised(
                f"User {user.username} is deactivated; an administrator can reactivate the account."
            )
        return cls(user.username, user.role, user.institution, user.countries)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(f"system:{name}", "system")

    @property
    def is_system(self) -> bool:
        return self.role == "system"

    def describe(self) -> str:
        where = f" of {self.institution}" if self.institution else ""
        return f"{self.name} ({self.role.replace('_', ' ')}{where})"


def require_case_access(actor: Actor, case: Case, doing: str) -> None:
    """Focal points of the case's country (and the system) work on whole cases."""
    if actor.is_system:
        return
    if actor.role == "focal_point" and case.country in actor.countries:
        return
    if actor.role == "focal_point":
        scope = ", ".join(sorted(actor.countries)) or "none"
        raise NotAuthorised(
            f"{actor.describe()} may not {doing} case {case.ref}: it is a {case.country} case "
            f"and their country scope is {scope}."
        )
    raise NotAuthorised(
        f"{actor.describe()} may not {doing} case {case.ref}: only focal points work on whole "
        "cases; institutions act on the tasks addressed to them (their inbox)."
    )


def require_responder(actor: Actor, case: Case, task: Task, doing: str) -> None:
    """The institution a task is addressed to (and the system) makes the responder's moves."""
    if actor.is_system:
        return
    if actor.role in ("officer", "focal_point") and actor.institution == task.institution:
        return
    raise NotAuthorised(
        f"{actor.describe()} may not {doing} task '{task.key}' of case {case.ref}: it is "
        f"addressed to {task.institution}, and only that institution can {doing} it."
    )


def require_requester(actor: Actor, case: Case, task: Task, doing: str) -> None:
    """The requesting side (focal points of the case's country) cancels and re-refers."""
    if actor.is_system or (actor.role == "focal_point" and case.country in actor.countries):
        return
    raise NotAuthorised(
        f"{actor.describe()} may not {doing} task '{task.key}' of case {case.ref}: only the "
        f"requester (a focal point for {case.country}) can {doing} a task."
    )


def require_task_reader(actor: Actor, case: Case, task: Task) -> None:
    if actor.is_system:
        return
    if actor.role in ("officer", "focal_point") and actor.institution == task.institution:
        return  # managers and admins of that institution see no case data
    if actor.role == "focal_point" and case.country in actor.countries:
        return
    raise NotAuthorised(
        f"{actor.describe()} may not see task '{task.key}' of case {case.ref}: it is "
        f"addressed to {task.institution}."
    )


def require_inbox(actor: Actor, institution: str) -> None:
    if actor.is_system or (
        actor.role in ("officer", "focal_point") and actor.institution == institution
    ):
        return
    raise NotAuthorised(
        f"{actor.describe()} may not open the inbox of {institution}; users see only their own "
        "institution's inbox."
    )


def require_compliance(actor: Actor, countries: set[str]) -> None:
    if actor.is_system:
        return
    if not countries:
        raise NotAuthorised(
            f"{actor.describe()} has no country in scope; ask an administrator to add one."
        )
    if actor.role in ("manager", "focal_point") and countries <= actor.countries:
        return
    outside = ", ".join(sorted(countries - actor.countries)) or ", ".join(sorted(countries))
    raise NotAuthorised(
        f"{actor.describe()} may not read compliance for {outside}; their scope is "
        f"{', '.join(sorted(actor.countries)) or 'none'}."
    )


def require_casebook(actor: Actor, doing: str = "list cases") -> None:
    """Only focal points (and the system) work with whole cases."""
    if actor.is_system or actor.role == "focal_point":
        return
    raise NotAuthorised(
        f"{actor.describe()} may not {doing}: only focal points work on whole cases; "
        "institutions act on the tasks addressed to them (their inbox) and managers read "
        "compliance figures."
    )


def require_fills(
    actor: Actor, case: Case, fillers: Collection[str], role: str, doing: str
) -> None:
    """Focal points record decisions on behalf of a role; an officer must be of an institution
    that takes the role for this case.

    `fillers` are those institutions: the one the case routes the role to and the others on
    its jurisdiction chain (the same place or above it); an institution filling the role
    elsewhere in the country has no part in the case.
    """
    if actor.is_system or (actor.role == "focal_point" and case.country in actor.countries):
        return
    if actor.role in ("officer", "focal_point") and actor.institution in fillers:
        return
    raise NotAuthorised(
        f"{actor.describe()} may not {doing} on case {case.ref}: that is for {role} where the "
        f"case is ({case.jurisdiction})."
    )


def require_admin(actor: Actor, doing: str) -> None:
    """Administrators (and the system) keep the directory."""
    if actor.is_system or actor.role == "admin":
        return
    raise NotAuthorised(
        f"{actor.describe()} may not {doing}; only administrators keep the directory."
    )
