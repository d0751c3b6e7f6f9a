"""The rules a well-formed protocol must also obey beyond its schema: roles, task ids,
states and transitions, guards, durable solutions, time zone and calendar, sharing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from protocols.schema import (
    BUILTIN_ATTRIBUTES,
    JUSTICE_TRACK,
    PERSON_FIELDS,
    AnyOfGuard,
    ApprovalGuard,
    AttributeGuard,
    ConsentGuard,
    Deadline,
    Guard,
    Protocol,
    TaskCompletedGuard,
    Track,
    TrackInGuard,
)
from protocols.yamlfile import Loc

Finding = tuple[Loc, str]


def check(p: Protocol) -> list[Finding]:
    """Every rule violation of a parsed protocol, as (location, message)."""
    return [
        *_roles(p),
        *_duplicate_task_ids(p),
        *_states_and_transitions(p),
        *_guards(p),
        *_durable_solutions(p),
        *_timezone(p),
        *_sharing(p),
    ]


def _known(names: object) -> str:
    return ", ".join(sorted(names))  # type: ignore[call-overload]


def _roles(p: Protocol) -> Iterator[Finding]:
    for loc, role in _role_uses(p):
        if role not in p.roles:
            yield loc, f"unknown role '{role}'; declared roles: {_known(p.roles)}"


def _role_uses(p: Protocol) -> Iterator[tuple[Loc, str]]:
    yield ("coordinator",), p.coordinator
    yield ("case_lead",), p.case_lead
    for level, role in p.escalation.escalate_after.items():
        if role != "manager":
            yield ("escalation", "escalate_after", level), role
    for name, approval in p.approvals.items():
        yield ("approvals", name, "approver"), approval.approver
    for tname, track in p.tracks.items():
        for sname, state in track.states.items():
            base: Loc = ("tracks", tname, "states", sname)
            deadlines: list[tuple[Loc, Deadline]] = [
                ((*base, "tasks", i, "due"), task.due) for i, task in enumerate(state.tasks)
            ]
            if state.deadline:
                deadlines.append(((*base, "deadline"), state.deadline))
            for i, task in enumerate(state.tasks):
                if task.role is not None:
                    yield (*base, "tasks", i, "role"), task.role
            for loc, deadline in deadlines:
                if deadline.extension:
                    yield (*loc, "extension", "approver"), deadline.extension.approver


def _duplicate_task_ids(p: Protocol) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for tname, track in p.tracks.items():
        for sname, state in track.states.items():
            for i, task in enumerate(state.tasks):
                where = f"{tname}.{sname}"
                if task.id in seen:
                    yield (
                        ("tracks", tname, "states", sname, "tasks", i, "id"),
                        f"duplicate task id '{task.id}' (also in {seen[task.id]}); "
                        "task ids are unique within a protocol",
                    )
                seen.setdefault(task.id, where)


def _states_and_transitions(p: Protocol) -> Iterator[Finding]:
    for tname, track in p.tracks.items():
        base: Loc = ("tracks", tname)
        states = track.states
        if track.initial not in states:
            yield (*base, "initial"), f"unknown state '{track.initial}'; states: {_known(states)}"
        triggers_used: set[str] = set()
        for i, tr in enumerate(track.transitions):
            triggers_used.add(tr.trigger)
            for src in tr.sources:
                if src not in states:
                    yield (
                        (*base, "transitions", i, "from"),
                        (
                            f"unknown source state '{src}' in track '{tname}'; "
                            f"states: {_known(states)}"
                        ),
                    )
                elif states[src].final:
                    yield (*base, "transitions", i, "from"), f"'{src}' is final; nothing leaves it"
            if tr.to not in states:
                yield (
                    (*base, "transitions", i, "to"),
                    (
                        f"unknown target state '{tr.to}' in track '{tname}'; "
                        f"states: {_known(states)}"
                    ),
                )
            if tr.trigger not in track.triggers:
                yield (
                    (*base, "transitions", i, "trigger"),
                    (
                        f"trigger '{tr.trigger}' has no label; add it under "
                        f"tracks.{tname}.triggers with es, pt and en"
                    ),
                )
        for trig in sorted(set(track.triggers) - triggers_used):
            yield (*base, "triggers", trig), f"label for trigger '{trig}' that no transition uses"
        yield from _reachability(tname, track.initial, track)
        yield from _fired_triggers(tname, track, triggers_used)


def _reachability(tname: str, initial: str, track: Track) -> Iterator[Finding]:
    edges: dict[str, set[str]] = {s: set() for s in track.states}
    for tr in track.transitions:
        for src in tr.sources:
            if src in edges and tr.to in track.states:
                edges[src].add(tr.to)
    reached, frontier = {initial}, [initial]
    while frontier:
        for nxt in edges.get(frontier.pop(), ()):
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    for sname, state in track.states.items():
        loc: Loc = ("tracks", tname, "states", sname)
        if initial in track.states and sname not in reached:
            yield loc, f"state '{sname}' is unreachable from '{initial}' in track '{tname}'"
        if not state.final and not edges[sname]:
            yield (
                loc,
                (
                    f"state '{sname}' is not final and has no way out; add a transition "
                    "from it or mark it `final: true`"
                ),
            )
        if state.final and (state.tasks or state.deadline):
            yield loc, f"final state '{sname}' cannot open tasks or deadlines"


def _fired_triggers(tname: str, track: Track, triggers: set[str]) -> Iterator[Finding]:
    """on_complete and on_expiry must name a trigger of their own track."""
    for sname, state in track.states.items():
        base: Loc = ("tracks", tname, "states", sname)
        named: list[tuple[Loc, str | None]] = [((*base, "deadline", "on_expiry"), None)]
        if state.deadline:
            named = [((*base, "deadline", "on_expiry"), state.deadline.on_expiry)]
        for i, task in enumerate(state.tasks):
            named.append(((*base, "tasks", i, "on_complete"), task.on_complete))
            named.append(((*base, "tasks", i, "due", "on_expiry"), task.due.on_expiry))
        for loc, trig in named:
            if trig is not None and trig not in triggers:
                yield (
                    loc,
                    f"unknown trigger '{trig}' in track '{tname}'; triggers: {_known(triggers)}",
                )


def _guard_sites(p: Protocol) -> Iterator[tuple[str, Loc, Guard]]:
    for tname, track in p.tracks.items():
        base: Loc = ("tracks", tname)
        for i, g in enumerate(track.opens_when):
            yield tname, (*base, "opens_when", i), g
        for i, tr in enumerate(track.transitions):
            for j, g in enumerate(tr.when):
                yield tname, (*base, "transitions", i, "when", j), g
        for sname, state in track.states.items():
            for i, task in enumerate(state.tasks):
                for j, g in enumerate(task.when):
                    yield tname, (*base, "states", sname, "tasks", i, "when", j), g


def _flatten(g: Guard, loc: Loc) -> Iterator[tuple[Loc, Guard]]:
    if isinstance(g, AnyOfGuard):
        for i, inner in enumerate(g.any_of):
            yield from _flatten(inner, (*loc, "any_of", i))
    else:
        yield loc, g


def _guards(p: Protocol) -> Iterator[Finding]:
    task_track = {
        task.id: tname
        for tname, track in p.tracks.items()
        for state in track.states.values()
        for task in state.tasks
    }
    attributes = set(BUILTIN_ATTRIBUTES) | set(p.attributes)
    for owner, site, guard in _guard_sites(p):
        for loc, g in _flatten(guard, site):
            depends_on_justice = False
            if isinstance(g, TrackInGuard):
                if g.track not in p.tracks:
                    yield (*loc, "track"), f"unknown track '{g.track}'; tracks: {_known(p.tracks)}"
                    continue
                for state in g.in_:
                    if state not in p.tracks[g.track].states:
                        yield (
                            (*loc, "in"),
                            (
                                f"unknown state '{state}' in track '{g.track}'; "
                                f"states: {_known(p.tracks[g.track].states)}"
                            ),
                        )
                depends_on_justice = g.track == JUSTICE_TRACK
            elif isinstance(g, TaskCompletedGuard):
                if g.task_completed not in task_track:
                    yield (
                        (*loc, "task_completed"),
                        (f"unknown task '{g.task_completed}'; tasks: {_known(task_track)}"),
                    )
                    continue
                depends_on_justice = task_track[g.task_completed] == JUSTICE_TRACK
            elif isinstance(g, ConsentGuard) and g.role and g.role not in p.roles:
                yield (*loc, "role"), f"unknown role '{g.role}'; declared roles: {_known(p.roles)}"
            elif isinstance(g, ApprovalGuard) and g.approval not in p.approvals:
                yield (
                    (*loc, "approval"),
                    (
                        f"unknown approval '{g.approval}'; declare it under `approvals:` "
                        f"(declared: {_known(p.approvals) or 'none'})"
                    ),
                )
            elif isinstance(g, AttributeGuard) and g.attribute not in attributes:
                yield (
                    (*loc, "attribute"),
                    (
                        f"unknown attribute '{g.attribute}'; declare it under `attributes:` "
                        f"(known: {_known(attributes)})"
                    ),
                )
            if depends_on_justice and owner != JUSTICE_TRACK:
                yield (
                    loc,
                    (
                        f"track '{owner}' is an assistance track and cannot depend on the "
                        f"'{JUSTICE_TRACK}' track: assistance never waits on a complaint or "
                        "prosecution (CO C-470/16, BR Lei 13.344 art. 2 VI, CR Ley 9095 art. 2 b)"
                    ),
                )


def _durable_solutions(p: Protocol) -> Iterator[Finding]:
    care = p.tracks.get("care")
    triggers = {t.trigger for t in care.transitions} if care else set()
    for i, option in enumerate(p.durable_solutions):
        if option.trigger not in triggers:
            yield (
                ("durable_solutions", i, "trigger"),
                (f"unknown care trigger '{option.trigger}'; care triggers: {_known(triggers)}"),
            )


def _timezone(p: Protocol) -> Iterator[Finding]:
    try:
        ZoneInfo(p.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        yield ("timezone",), f"unknown time zone '{p.timezone}'; use an IANA name like America/Lima"
    if p.calendar not in holidays.list_supported_countries():
        yield ("calendar",), f"no public-holiday calendar for '{p.calendar}'"


_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3}(-[0-9]{2,7})?)?$")


def _sharing(p: Protocol) -> Iterator[Finding]:
    """What a step shares must be a known field; a handoff must say where it crosses."""
    shareable = [*BUILTIN_ATTRIBUTES, *p.attributes, *PERSON_FIELDS]
    for tname, track in p.tracks.items():
        for sname, state in track.states.items():
            for i, task in enumerate(state.tasks):
                base: Loc = ("tracks", tname, "states", sname, "tasks", i)
                for j, name in enumerate(task.shares):
                    if name not in shareable:
                        yield (
                            (*base, "shares", j),
                            f"unknown field '{name}'; a step may share: {', '.join(shareable)}",
                        )
                if task.handoff is None:
                    continue
                to = task.handoff.to
                if not to.isupper() and to not in (*BUILTIN_ATTRIBUTES, *p.attributes):
                    yield (
                        (*base, "handoff", "to"),
                        f"'{to}' is neither a country code (EC) nor a case attribute",
                    )
                for country, where in task.handoff.jurisdictions.items():
                    if not _JURISDICTION.match(where) or where[:2] != country:
                        yield (
                            (*base, "handoff", "jurisdictions", country),
                            f"'{where}' must be a jurisdiction of {country}: the country code, "
                            "an ISO 3166-2 subdivision or a subdivision plus a municipal code",
                        )
