"""The only module that imports `transitions`: one shared machine per protocol version and track.

A Case never meets a Machine. Machines are built once per (content hash, track) with
model=None and cached; each trigger runs against a throwaway cursor holding the current
state. Callbacks do no I/O: the services layer persists what the machine decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from transitions import Machine
from transitions.extensions import GraphMachine

from protocols.loader import LoadedProtocol
from protocols.schema import Track
from workflows.domain.errors import GuardFailed, TransitionNotAllowed
from workflows.domain.guards import GuardContext, describe, unmet


class _Cursor:
    """The minimal model a shared machine moves: a state and the guard context."""

    __slots__ = ("ctx", "state")

    def __init__(self, state: str, ctx: GuardContext) -> None:
        self.state = state
        self.ctx = ctx


@dataclass(frozen=True, slots=True)
class TrackMachine:
    name: str
    track: Track
    machine: Machine

    def triggers_from(self, state: str) -> list[str]:
        return sorted({t.trigger for t in self.track.transitions if state in t.sources})

    def unmet_guards(self, ctx: GuardContext, state: str, trigger: str) -> list[str]:
        reasons: list[str] = []
        for t in self.track.transitions:
            if t.trigger == trigger and state in t.sources:
                reasons.extend(r for r in unmet(t.when, ctx) if r not in reasons)
        return reasons


def _condition(guards: Any) -> Any:
    def check(ctx: GuardContext) -> bool:
        return not unmet(guards, ctx)

    return check


_MACHINES: dict[tuple[str, str], TrackMachine] = {}


def _build(track_name: str, track: Track) -> TrackMachine:
    transitions = [
        {
            "trigger": t.trigger,
            "source": t.sources,
            "dest": t.to,
            "conditions": [_condition(t.when)] if t.when else [],
        }
        for t in track.transitions
    ]
    machine = Machine(
        model=None,
        states=list(track.states),
        transitions=transitions,
        initial=track.initial,
        auto_transitions=False,
        send_event=False,
    )
    return TrackMachine(track_name, track, machine)


def track_machine(loaded: LoadedProtocol, track_name: str) -> TrackMachine:
    """The shared machine of a track, built once per protocol version (content hash)."""
    key = (loaded.content_hash, track_name)
    machine = _MACHINES.get(key)
    if machine is None:
        machine = _MACHINES[key] = _build(track_name, loaded.protocol.tracks[track_name])
    return machine


def next_state(tm: TrackMachine, ctx: GuardContext, trigger: str) -> str:
    """The state `trigger` leads to from the track's current state, or a clear refusal."""
    state = ctx.tracks[tm.name]
    event = tm.machine.events.get(trigger)
    if event is None or not event.transitions.get(state):
        raise TransitionNotAllowed(ctx.case_ref, tm.name, state, trigger, tm.triggers_from(state))
    cursor = _Cursor(state, ctx)
    if not event.trigger(cursor, ctx=ctx):
        raise GuardFailed(
            ctx.case_ref, tm.name, state, trigger, tm.unmet_guards(ctx, state, trigger)
        )
    return cursor.state


_DiagramState: Any = GraphMachine.state_cls


class _LabelledState(_DiagramState):  # type: ignore[misc]
    """A diagram state drawn with its label in the reader's language, not its id."""

    def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = label or self.name


class _LabelledGraphMachine(GraphMachine):
    state_cls = _LabelledState


def diagram(
    loaded: LoadedProtocol,
    track_name: str,
    fmt: Literal["dot", "mermaid"] = "dot",
    current: str | None = None,
    locale: str = "es",
    conditions: bool = False,
) -> str:
    """The track drawn by transitions' GraphMachine, with `current` highlighted if given.

    With `conditions`, edges also name their guards (long: for protocol authors, not for the
    console, where the blocked steps are listed in plain words instead)."""
    track = loaded.protocol.tracks[track_name]

    class _Model:
        pass

    model = _Model()
    states = [
        {"name": name, "final": s.final, "label": s.label.get(locale)}
        for name, s in track.states.items()
    ]
    transitions = [
        {
            "trigger": t.trigger,
            "source": t.sources,
            "dest": t.to,
            # strings, never evaluated: the diagram only shows them
            "conditions": [describe(g) for g in t.when],
        }
        for t in track.transitions
    ]
    machine = _LabelledGraphMachine(
        model=model,
        states=states,
        transitions=transitions,
        initial=current or track.initial,
        auto_transitions=False,
        show_conditions=conditions,
        graph_engine="mermaid" if fmt == "mermaid" else "graphviz",
        title=f"{loaded.id} {loaded.protocol.version}: {track.label.get(locale)}",
    )
    graph = machine.get_graph()
    if fmt == "mermaid":
        return str(graph.draw(None))
    return str(graph.source)
