"""Run a protocol scenario: steps against a fresh database and a simulated clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from protocols.errors import ProtocolError, ProtocolFileError
from protocols.registry import Registry
from protocols.yamlfile import YamlDocument
from ruta.scenario_steps import ACTIONS, TASK_MOVES, WAIT, parse
from workflows.domain.access import Actor
from workflows.domain.case import Case, Task
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import ReferralEngineError
from workflows.domain.ports import Services
from workflows.services import cases, crossborder, tasks
from workflows.services.sweep import sweep

MakeServices = Callable[[SimulatedClock, list[str]], Services]
SYSTEM = Actor.system("scenario")


@dataclass(slots=True)
class StepResult:
    index: int
    kind: str
    summary: str
    ok: bool
    differences: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ScenarioResult:
    file: str
    name: str
    steps: list[StepResult]

    @property
    def passed(self) -> bool:
        return all(s.ok for s in self.steps)


class ScenarioError(ValueError):
    """The scenario file itself is malformed."""


def run_file(path: str, registry: Registry, make_services: MakeServices) -> ScenarioResult:
    doc = YamlDocument.read(Path(path))
    return run(doc, registry, make_services)


def run(
    doc: YamlDocument,
    registry: Registry,
    make_services: MakeServices,
    person: Callable[[], dict[str, str]] | None = None,
    steps: int | None = None,
    shift: timedelta = timedelta(0),
) -> ScenarioResult:
    """Run a scenario; `person` gives the case a (synthetic) person record, `steps` stops
    after that many steps and `shift` moves its start (the demo replays scenarios in the
    past and leaves cases half-way)."""
    script = parse(doc)
    data = doc.data
    try:
        start = _instant(data["start"]) + shift
        loaded = registry.latest_published(str(data["protocol"]))
    except (ValueError, OverflowError, ProtocolError) as exc:
        raise ProtocolFileError(doc.name, [doc.problem(("start",), str(exc))]) from None
    inactive = data.get("inactive") or []
    clock = SimulatedClock(start)
    try:
        svc = make_services(clock, [str(i) for i in inactive])
    except LookupError as exc:
        raise ProtocolFileError(doc.name, [doc.problem(("inactive",), str(exc))]) from None
    runner = _Runner(svc, clock, loaded, dict(data["case"]), person)
    results: list[StepResult] = []
    for i, step in enumerate(script[:steps]):
        result = runner.step(i + 1, step.kind, step.arg)
        if not result.ok:
            result.summary = f"line {step.line}: {result.summary}"
        results.append(result)
        if not result.ok and step.kind in ACTIONS:
            break  # the case no longer follows the script; later steps would only mislead
    return ScenarioResult(doc.name, str(data.get("name", doc.name)), results)


def _instant(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"{value!r} needs a UTC offset, such as 2026-03-02T09:00:00-05:00")
    return when


def _wait(value: Any) -> timedelta:
    match = WAIT.match(str(value))
    if not match:
        raise ScenarioError(f"wait {value!r}: write '<n> minutes|hours|days'")
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    return timedelta(**{f"{unit}s": amount})


class _Runner:
    def __init__(
        self,
        svc: Services,
        clock: SimulatedClock,
        loaded: Any,
        attributes: dict[str, Any],
        person: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.person = person
        self.svc, self.clock, self.loaded, self.attributes = svc, clock, loaded, attributes
        self.ref: str | None = None
        self.outbox_seen = 0

    def step(self, index: int, kind: str, arg: Any) -> StepResult:
        summary = f"{kind} {_brief(arg)}".strip()
        try:
            if kind == "expect":
                diffs = self.expect(arg)
                return StepResult(index, kind, summary, not diffs, diffs)
            if kind == "expect_error":
                return self.expect_error(index, arg)
            self.act(kind, arg)
        except (ReferralEngineError, ProtocolError, ValueError, OverflowError) as exc:
            return StepResult(index, kind, summary, False, [f"refused: {exc}"])
        return StepResult(index, kind, summary, True)

    @property
    def case_ref(self) -> str:
        if self.ref is None:
            raise ScenarioError("the case is not open yet; start with `- open: {}`")
        return self.ref

    @property
    def focal_point(self) -> Actor:
        """The requesting side: a focal point of the case's country."""
        return Actor("scenario:focal_point", "focal_point", None, frozenset({self.country}))

    @property
    def country(self) -> str:
        return str(self.loaded.protocol.country)

    def responder(self, a: dict[str, Any], ref: str, task: Any) -> Actor:
        """An officer of the institution the task is addressed to, or of `as:`."""
        institution = a.get("as")
        if institution is None:
            found = cases.load_case(self.svc, ref, SYSTEM).task(task)
            if found is None:
                raise ScenarioError(f"case {ref} has no task {task!r}")
            institution = found.institution
        return Actor(f"scenario:{institution}", "officer", str(institution), frozenset())

    def target(self, a: dict[str, Any]) -> str:
        """The case a step acts on: the scenario's case, or `case: linked`."""
        if a.get("case", "main") == "linked":
            return self.linked_ref()
        return self.case_ref

    def linked_ref(self) -> str:
        case = cases.load_case(self.svc, self.case_ref, SYSTEM)
        if not case.links:
            raise ScenarioError(f"case {case.ref} has no linked case yet")
        return case.links[-1].ref

    def act(self, kind: str, a: dict[str, Any]) -> None:
        svc = self.svc
        fp = self.focal_point
        if kind == "open":
            record = self.person() if self.person else None
            self.ref = cases.open_case(svc, self.loaded, self.attributes, fp, person=record)
        elif kind == "wait":
            self.clock.advance(_wait(a))
        elif kind == "sweep":
            failed = sweep(svc).failed
            if failed:
                raise ScenarioError(f"the sweep left case(s) as they were: {'; '.join(failed)}")
        elif kind == "consent":
            cases.record_consent(
                svc, self.case_ref, a["purpose"], bool(a["given"]), fp, role=a.get("role")
            )
        elif kind == "legal_basis":
            cases.record_consent(
                svc,
                self.case_ref,
                a["purpose"],
                True,
                fp,
                role=a.get("role"),
                legal_basis=str(a["basis"]),
            )
        elif kind == "set":
            cases.set_attributes(svc, self.case_ref, dict(a), fp)
        elif kind == "approve":
            cases.approve(svc, self.case_ref, a["approval"], a["role"], fp)
        elif kind == "fire":
            cases.fire(svc, self.case_ref, a["track"], a["trigger"], fp)
        elif kind == "extend":
            cases.extend(
                svc, self.case_ref, a["role"], fp, task=a.get("task"), track=a.get("track")
            )
        elif kind in TASK_MOVES:
            ref = self.target(a)
            actor = fp if kind == "cancel" else self.responder(a, ref, a["task"])
            tasks.move(
                svc,
                actor,
                ref,
                a["task"],
                kind,
                reason=a.get("reason"),
                note=a.get("note"),
                outcome=dict(a.get("outcome") or {}),
            )
        elif kind == "assign":
            ref = self.target(a)
            tasks.assign(svc, self.responder(a, ref, a["task"]), ref, a["task"], a.get("to"))
        elif kind == "refer":
            tasks.refer(svc, fp, self.target(a), a["task"], str(a["to"]))
        elif kind == "confirm_arrival":
            linked = self.linked_ref()
            case = cases.load_case(svc, self.case_ref, SYSTEM)
            task = case.task(case.links[-1].task_id or -1)
            if task is None:
                raise ScenarioError(f"case {self.case_ref} has no handoff task to confirm")
            officer = Actor("scenario:receiving", "officer", task.institution, frozenset())
            crossborder.confirm_arrival(svc, officer, linked, dict(a.get("outcome") or {}))

    def expect_error(self, index: int, arg: dict[str, Any]) -> StepResult:
        arg = dict(arg)
        contains = str(arg.pop("contains", ""))
        if len(arg) != 1 or next(iter(arg)) not in ACTIONS:
            raise ScenarioError(f"expect_error wraps one action ({', '.join(ACTIONS)})")
        kind, inner = next(iter(arg.items()))
        summary = f"expect_error {kind} {_brief(inner)}"
        try:
            self.act(kind, inner or {})
        except (ReferralEngineError, ValueError) as exc:
            if contains.lower() in str(exc).lower():
                return StepResult(index, "expect_error", summary, True)
            return StepResult(
                index,
                "expect_error",
                summary,
                False,
                [f"error: expected a message containing {contains!r}, got: {exc}"],
            )
        return StepResult(
            index,
            "expect_error",
            summary,
            False,
            ["error: expected the step to be refused, but it succeeded"],
        )

    def expect(self, want: dict[str, Any], ref: str | None = None) -> list[str]:
        case = cases.load_case(self.svc, ref or self.case_ref, SYSTEM)
        diffs: list[str] = []
        for key, value in want.items():
            if key == "linked":
                if not case.links:
                    diffs.append(f"linked: case {case.ref} has no linked case")
                    continue
                sub = self.expect(dict(value), case.links[-1].ref)
                diffs += [f"linked {case.links[-1].ref}: {d}" for d in sub]
                continue
            if key == "protocol":
                if case.protocol_id != value:
                    diffs.append(f"protocol: expected {value}, got {case.protocol_id}")
                continue
            if key == "routing_gaps":
                gaps = sum(1 for t in case.tasks if t.routing == "gap")
                if gaps != int(value):
                    diffs.append(f"routing_gaps: expected {value}, got {gaps}")
                continue
            if key in ("cancelled_tasks", "rejected_tasks"):
                status = key.split("_")[0]
                done = [
                    _task_row(t, self.loaded.protocol.timezone)
                    for t in case.tasks
                    if t.status == status
                ]
                diffs += _compare_tasks(key, value, done, exhaustive=False)
                continue
            if key == "tracks":
                for track, state in value.items():
                    got = case.tracks[track].state if track in case.tracks else None
                    if got != state:
                        diffs.append(f"tracks.{track}: expected {state!r}, got {got!r}")
            elif key in ("open_tasks", "overdue_tasks"):
                tasks = _tasks(case, self.loaded.protocol.timezone, key == "overdue_tasks")
                diffs += _compare_tasks(key, value, tasks)
            elif key == "open_tasks_include":  # only these need to be open; others may be
                tasks = _tasks(case, self.loaded.protocol.timezone, False)
                diffs += _compare_tasks(key, value, tasks, exhaustive=False)
            elif key == "notifications":
                diffs += self._notifications(case, value)
            elif key == "closed":
                if case.is_closed != bool(value):
                    diffs.append(f"closed: expected {value}, got {case.is_closed}")
            else:
                raise ScenarioError(
                    f"unknown expectation {key!r}; use tracks, open_tasks, overdue_tasks, "
                    "open_tasks_include, cancelled_tasks, rejected_tasks, notifications, "
                    "closed, routing_gaps, protocol, linked"
                )
        if ref is None:
            self.outbox_seen = len(self._outbox(case))
        return diffs

    def _outbox(self, case: Case) -> list[dict[str, Any]]:
        with self.svc.uow() as uow:
            return uow.cases.queued_notifications(case)

    def _notifications(self, case: Case, want: list[dict[str, Any]]) -> list[str]:
        fresh = self._outbox(case)[self.outbox_seen :]
        diffs = []
        for item in want:
            if not any(all(str(n.get(k)) == str(v) for k, v in item.items()) for n in fresh):
                got = [f"{n['template']}->{n['role']}" for n in fresh] or ["nothing"]
                diffs.append(
                    f"notifications: expected {item}, queued since the last expect: "
                    f"{', '.join(got)}"
                )
        return diffs


def _tasks(case: Case, timezone: str, overdue: bool) -> list[dict[str, Any]]:
    return [
        _task_row(t, timezone) for t in case.open_tasks() if not overdue or t.overdue_at is not None
    ]


def _task_row(t: Task, timezone: str) -> dict[str, Any]:
    return {
        "task": t.key,
        "role": t.role,
        "due": t.due_at.astimezone(ZoneInfo(timezone)),  # the protocol's local time
        "status": t.status,
        "institution": t.institution,
        "routing": t.routing,
        "reason": t.reason,
        "track": t.track,
    }


def _compare_tasks(
    key: str, want: list[dict[str, Any]], got: list[dict[str, Any]], exhaustive: bool = True
) -> list[str]:
    remaining = list(got)
    diffs = []
    for item in want:
        match = next((g for g in remaining if _task_matches(item, g)), None)
        if match is None:
            diffs.append(f"{key}: expected {_show(item)}; have {_show_all(got)}")
        else:
            remaining.remove(match)
    for extra in remaining if exhaustive else []:
        diffs.append(f"{key}: unexpected {_show(extra)}")
    return diffs


def _task_matches(want: dict[str, Any], got: dict[str, Any]) -> bool:
    for k, v in want.items():
        if k == "due":
            if _instant(v) != got["due"]:
                return False
        elif str(got.get(k)) != str(v):
            return False
    return True


def _show(task: dict[str, Any]) -> str:
    parts = []
    for k, v in task.items():
        if k in ("track", "routing") or v is None:
            continue
        parts.append(f"{k}={v.isoformat() if isinstance(v, datetime) else v}")
    return "{" + ", ".join(parts) + "}"


def _show_all(tasks: list[dict[str, Any]]) -> str:
    return "[" + "; ".join(_show(t) for t in tasks) + "]" if tasks else "none"


def _brief(arg: Any) -> str:
    if isinstance(arg, dict):
        return " ".join(f"{k}={v}" for k, v in arg.items() if not isinstance(v, (dict, list)))
    return str(arg)
