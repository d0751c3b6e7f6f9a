"""Time a peer engine, SpiffWorkflow, advancing the step Ruta's fire benchmark times.

`peer_admit.bpmn` is that step in BPMN: the CO-TRATA care track leaves `identification`
(completing `characterise_case` ends the state's subprocess with a terminate end event,
cancelling `security_risk_assessment` and both due-time timers) and enters
`immediate_assistance` (a parallel split into `immediate_assistance_plan` and
`legal_orientation`, each with a non-interrupting boundary timer for its due time, and an
interrupting 5-day timer on the state's subprocess for its legal deadline). One advance is
what an application persisting Spiff workflows as JSON would do: in one transaction, load the
workflow's JSON, deserialize it (default `BpmnWorkflowSerializer`, which carries the process
spec), complete the ready user task, run the engine steps until it waits, serialize it and
write it back under a version check. Spiff advances and Ruta fires (`fire.step` on cases
`fire.prepare` made) alternate in the same database, so both see the same machine state.
Target: Ruta's fire median at or below Spiff's advance median.

`python -m benchmarks peer` runs it (SQLite, and PostgreSQL when RUTA_BENCH_POSTGRES_URL is
set). SpiffWorkflow is a benchmark-only dependency: nothing else imports it.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, insert, select, update

from benchmarks import fire
from benchmarks.common import Backend, Figure, percentile, timed_ms
from benchmarks.datasets import fresh
from protocols.registry import Registry

BPMN = Path(__file__).with_name("peer_admit.bpmn")
PROCESS = "co_trata_care"
STEP = "characterise_case"  # the user task whose completion is the step
OPENS = ("immediate_assistance_plan", "legal_orientation")  # what Ruta's fire opens
TARGET = 1.0
PLACE = "bench_peer"

# Text, not JSON/JSONB: the serializer hands over a string, and parsing it into a JSON
# column would add work neither engine needs.
workflows = Table(
    "peer_workflows",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("serialization", Text, nullable=False),
)

PHASES = ("load", "deserialize", "run", "serialize", "write and commit")


class ConcurrentAdvance(Exception):
    """The workflow's row changed between load and write (as Ruta's claim would refuse)."""


class Spiff:
    """The BPMN process parsed once, the default serializer, and the advance."""

    def __init__(self) -> None:
        parser = BpmnParser()
        # the file's name without its directory: the spec carries it into every workflow's
        # JSON, whose size should not depend on where the repository is checked out
        parser.add_bpmn_str(BPMN.read_bytes(), filename=BPMN.name)
        self.spec = parser.get_spec(PROCESS)
        self.subprocess_specs = parser.get_subprocess_specs(PROCESS)
        self.serializer = BpmnWorkflowSerializer()

    def waiting(self) -> str:
        """A new workflow, run until it waits at the step, as JSON."""
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs)
        workflow.do_engine_steps()
        return str(self.serializer.serialize_json(workflow))

    def advance(self, engine: Engine, workflow_id: int, phases: list[dict[str, float]]) -> None:
        """Complete the step on one stored workflow; appends the ms each phase took."""
        marks = [time.perf_counter()]
        with engine.begin() as conn:
            row = conn.execute(
                select(workflows.c.version, workflows.c.serialization).where(
                    workflows.c.id == workflow_id
                )
            ).one()
            marks.append(time.perf_counter())
            workflow = self.serializer.deserialize_json(row.serialization)
            marks.append(time.perf_counter())
            task = workflow.get_next_task(state=TaskState.READY, spec_name=STEP)
            task.run()
            # do_engine_steps also refreshes the timers (refresh_waiting_tasks is deprecated
            # in 3.2 and only calls refresh_timers)
            workflow.do_engine_steps()
            marks.append(time.perf_counter())
            text = self.serializer.serialize_json(workflow)
            marks.append(time.perf_counter())
            written = conn.execute(
                update(workflows)
                .where(workflows.c.id == workflow_id, workflows.c.version == row.version)
                .values(version=row.version + 1, serialization=text)
            ).rowcount
            if written != 1:
                raise ConcurrentAdvance(workflow_id)
        marks.append(time.perf_counter())
        phases.append(
            {name: (b - a) * 1000 for name, a, b in zip(PHASES, marks[:-1], marks[1:], strict=True)}
        )

    def check(self, engine: Engine, workflow_id: int) -> dict[str, Any]:
        """What one advanced workflow is waiting on (the benchmark times the step it claims)."""
        with engine.connect() as conn:
            text = conn.execute(
                select(workflows.c.serialization).where(workflows.c.id == workflow_id)
            ).scalar_one()
        workflow = self.serializer.deserialize_json(text)
        ready = sorted(t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY))
        timers = sorted(t.task_spec.name for t in workflow.get_tasks(state=TaskState.WAITING))
        if tuple(ready) != OPENS or len(timers) != len(OPENS) + 1:
            raise RuntimeError(f"the Spiff peer did not reach the state: {ready}, {timers}")
        parsed = json.loads(text)
        specs = {k: parsed[k] for k in ("spec", "subprocess_specs")}
        return {
            "json_bytes": len(text.encode()),
            "spec_bytes": len(json.dumps(specs).encode()),
            "ready": ready,
            "timers": timers,
        }


def _payload_bytes(value: Any) -> int:
    """A value's size as stored: text and bytes by length, JSON as text, numbers and times at
    8 bytes (indexes and row headers left out, as for the Spiff JSON)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    if isinstance(value, dict | list):
        return len(json.dumps(value).encode())
    return 8


def _case_bytes(engine: Engine, ref: str) -> tuple[int, int]:
    """Payload bytes and rows a Ruta case has in the database (the shared audit head aside)."""
    with engine.connect() as conn:
        rows = fire._rows(conn, fire._case_id(engine, ref))
    found = [r for name, by_key in rows.items() if name != "audit_head" for r in by_key.values()]
    return sum(_payload_bytes(v) for r in found for v in r.values()), len(found)


def measure(engine: Engine, registry: Registry, runs: int) -> dict[str, Any]:
    """(wall, cpu) ms of each Ruta fire and each Spiff advance, alternating, and sizes."""
    svc, refs = fire.prepare(engine, registry, runs)
    spiff = Spiff()
    workflows.create(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(workflows),
            [{"id": i, "version": 1, "serialization": spiff.waiting()} for i in range(runs)],
        )
    fire_ms: list[tuple[float, float]] = []
    spiff_ms: list[tuple[float, float]] = []
    phases: list[dict[str, float]] = []
    for i, ref in enumerate(refs):

        def advance(i: int = i) -> None:
            spiff.advance(engine, i, phases)

        # who goes first alternates too, so neither always follows the other's writes
        if i % 2:
            spiff_ms.append(timed_ms(advance))
            fire_ms.append(timed_ms(fire.step(svc, ref)))
        else:
            fire_ms.append(timed_ms(fire.step(svc, ref)))
            spiff_ms.append(timed_ms(advance))
    case_bytes, case_rows = _case_bytes(engine, refs[0])
    return {
        "fire": fire_ms,
        "spiff": spiff_ms,
        "phases": phases,
        "spiff_state": spiff.check(engine, 0),
        "case_bytes": case_bytes,
        "case_rows": case_rows,
    }


def run(backend: Backend, registry: Registry, scratch: Path, runs: int = 200) -> list[Figure]:
    engine = fresh(backend, PLACE, scratch)
    try:
        got = measure(engine, registry, runs)
    finally:
        engine.dispose()
        backend.drop(PLACE)
    fire_wall, spiff_wall = [w for w, _ in got["fire"]], [w for w, _ in got["spiff"]]
    fire_med, spiff_med = statistics.median(fire_wall), statistics.median(spiff_wall)
    fire_cpu = statistics.median(c for _, c in got["fire"])
    spiff_cpu = statistics.median(c for _, c in got["spiff"])
    fire95, spiff95 = percentile(fire_wall, 0.95), percentile(spiff_wall, 0.95)
    state = got["spiff_state"]
    step = "Spiff advance characterise_case (admit_immediate in BPMN), one workflow"
    ratio = "Ruta fire / Spiff advance"
    phases = {p: round(statistics.median(ph[p] for ph in got["phases"]), 3) for p in PHASES}
    kb = 1024
    return [
        Figure("peer", backend.name, f"{step}: median", spiff_med, "ms", size=runs,
               cpu_ms=spiff_cpu, extra={"phases_ms": phases, "ready": state["ready"],
                                        "timers": state["timers"]}),
        Figure("peer", backend.name, f"{step}: p95", spiff95, "ms", size=runs),
        Figure("peer", backend.name, f"{ratio} (floor column: Spiff): median", fire_med, "ms",
               size=runs, cpu_ms=fire_cpu, floor=spiff_med, ratio=fire_med / spiff_med,
               target=f"<= {TARGET:.1f}x peer", met=fire_med / spiff_med <= TARGET,
               extra={"cpu_ratio": round(fire_cpu / spiff_cpu, 2) if spiff_cpu else None}),
        Figure("peer", backend.name, f"{ratio} (floor column: Spiff): p95", fire95, "ms",
               size=runs, floor=spiff95, ratio=fire95 / spiff95),
        Figure("peer", backend.name, "stored after the step: Spiff workflow JSON",
               state["json_bytes"] / kb, "KB",
               extra={"bytes": state["json_bytes"], "spec_bytes": state["spec_bytes"]}),
        Figure("peer", backend.name, "stored after the step: Ruta case rows (payload)",
               got["case_bytes"] / kb, "KB",
               extra={"bytes": got["case_bytes"], "rows": got["case_rows"]}),
    ]  # fmt: skip
