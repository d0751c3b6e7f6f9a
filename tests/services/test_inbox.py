"""Inboxes: moves, routing, consent, what each institution sees (on the in-memory ports).

The fixture directory (tests/fixtures/test-directory.yaml) has shelters in Ipiales, Narino
and nationally, a closed one in Pasto, and nobody for `child_authority`: a minor's
best-interests task is a routing gap that goes to `test-coordination`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from institutions.domain import Institution, User
from protocols.loader import from_text
from tests.conftest import FIXTURES, FOCAL_CO, SYSTEM, officer
from tests.services.conftest import events, outbox
from workflows.domain.access import Actor
from workflows.domain.errors import ConcurrentChange, InvalidInput, NotAuthorised, TaskNotOpen
from workflows.domain.ports import ComplianceCounts
from workflows.queries import compliance, inbox
from workflows.services import cases, tasks
from workflows.services.sweep import sweep

ME = FOCAL_CO
IPIALES = officer("test-shelter-ipiales")
NARINO = officer("test-shelter-narino")
NATIONAL = officer("test-shelter-national")
IN_IPIALES = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
MINOR = {**IN_IPIALES, "minor": True}
LEGAL_BASIS = "Ley 1098 de 2006 (Código de la Infancia y la Adolescencia)"


def open_case(svc, protocol, attributes=IN_IPIALES, person=None) -> str:
    return cases.open_case(svc, protocol, attributes, ME, person=person)


def to_immediate(svc, ref: str) -> None:
    """Characterise, consent to assistance, admit: `lodge` and `find_bed` go to shelters."""
    tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "internal"})
    cases.record_consent(svc, ref, "assistance", True, ME)
    cases.fire(svc, ref, "care", "admit_immediate", ME)


def immediate(svc, protocol, attributes=IN_IPIALES) -> str:
    ref = open_case(svc, protocol, attributes)
    to_immediate(svc, ref)
    return ref


def task_rows(svc, ref: str, key: str) -> list[tuple[str, str, str]]:
    """(institution, status, routing) of every task with this key, oldest first."""
    case = cases.load_case(svc, ref, ME)
    return [(t.institution, t.status, t.routing) for t in case.tasks if t.key == key]


# --- the lifecycle on a real case ---------------------------------------------------


def test_a_forbidden_move_names_the_allowed_ones_and_changes_nothing(svc, test_protocol):
    ref = immediate(svc, test_protocol)
    tasks.move(svc, IPIALES, ref, "lodge", "accept")
    version = cases.load_case(svc, ref, ME).version
    with pytest.raises(TaskNotOpen) as info:
        tasks.move(svc, IPIALES, ref, "lodge", "reject", reason="no_capacity")
    assert "is accepted; 'reject' is allowed only from requested, received" in str(info.value)
    assert "(allowed now: start, hold, complete, cancel)" in str(info.value)
    assert cases.load_case(svc, ref, ME).version == version
    tasks.move(svc, IPIALES, ref, "lodge", "hold", reason="waiting_for_documents")
    version = cases.load_case(svc, ref, ME).version
    with pytest.raises(
        TaskNotOpen, match=r"on hold; resume it first \(allowed now: resume, cancel"
    ):
        tasks.move(svc, IPIALES, ref, "lodge", "complete")
    with pytest.raises(TaskNotOpen, match="'fail' is allowed only from in-progress"):
        tasks.move(svc, IPIALES, ref, "find_bed", "fail", reason="other", note="no beds")
    case = cases.load_case(svc, ref, ME)
    assert case.version == version
    assert (case.task("lodge").status, case.task("find_bed").status) == ("on-hold", "requested")


def test_an_ended_task_cannot_move_again(svc, test_protocol):
    ref = open_case(svc, test_protocol)
    tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "internal"})
    with pytest.raises(TaskNotOpen, match="'characterise' .* is completed; only open tasks"):
        tasks.move(svc, ME, ref, "characterise", "start")


def test_start_and_complete_from_requested_record_the_implied_moves_in_order(svc, test_protocol):
    ref = open_case(svc, test_protocol)
    tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "external"})
    kinds = [kind for kind, _ in events(svc, ref, task="characterise")]
    assert kinds == ["task_opened", "task_accepted", "task_started", "task_completed"]
    tasks.move(svc, ME, ref, "admit", "start")
    kinds = [kind for kind, _ in events(svc, ref, task="admit")]
    assert kinds == ["task_opened", "task_accepted", "task_started"]
    assert cases.load_case(svc, ref, ME).task("admit").status == "in-progress"


def test_cancel_is_the_requesters_move_not_the_responders(svc, test_protocol):
    ref = immediate(svc, test_protocol)
    with pytest.raises(NotAuthorised, match="only the requester .* can cancel"):
        tasks.move(svc, IPIALES, ref, "lodge", "cancel", reason="not_needed")
    with pytest.raises(InvalidInput, match="A cancel needs a reason"):
        tasks.move(svc, ME, ref, "lodge", "cancel")
    tasks.move(svc, ME, ref, "lodge", "cancel", reason="duplicate")
    task = cases.load_case(svc, ref, ME).task("lodge")
    assert (task.status, task.reason) == ("cancelled", "duplicate")
    assert outbox(svc, ref, "task_cancelled") == ["test-shelter-ipiales"]


def test_reassign_only_to_an_active_user_of_the_same_institution(svc, test_protocol):
    with svc.uow() as uow:
        directory = uow.directory
        directory.save_user(User("ana.ipiales", "test-shelter-ipiales", "officer"))
        directory.save_user(User("old.ipiales", "test-shelter-ipiales", "officer", active=False))
        directory.save_user(User("bea.narino", "test-shelter-narino", "officer"))
        uow.commit()
    ref = immediate(svc, test_protocol)
    for who in ("old.ipiales", "bea.narino", "nobody"):
        with pytest.raises(NotAuthorised, match=f"only to an active user of .*{who!r}"):
            tasks.assign(svc, IPIALES, ref, "lodge", who)
    with pytest.raises(NotAuthorised, match="addressed to test-shelter-ipiales"):
        tasks.assign(svc, NARINO, ref, "lodge", "bea.narino")
    tasks.assign(svc, IPIALES, ref, "lodge", "ana.ipiales")
    (row,) = [r for r in inbox.inbox(svc, IPIALES) if r.task_key == "lodge"]
    assert row.owner == "ana.ipiales"
    tasks.assign(svc, IPIALES, ref, "lodge", None)
    assert cases.load_case(svc, ref, ME).task("lodge").owner is None


def test_hold_stops_the_clock_the_sweep_skips_it_and_resume_moves_the_due_time(
    svc, test_protocol, clock
):
    ref = immediate(svc, test_protocol)
    due = cases.load_case(svc, ref, ME).task("lodge").due_at
    clock.advance(timedelta(hours=2))
    tasks.move(svc, IPIALES, ref, "lodge", "accept")
    tasks.move(svc, IPIALES, ref, "lodge", "hold", reason="waiting_for_person")
    clock.advance(timedelta(hours=30))  # past the 24 hours, but on hold
    sweep(svc)
    case = cases.load_case(svc, ref, ME)
    assert case.task("lodge").overdue_at is None
    assert case.task("find_bed").overdue_at is not None  # not held: overdue after 12 hours
    (counts,) = compliance.counts(svc, SYSTEM, {"CO"})
    assert counts.overdue_now == 1  # find_bed only
    tasks.move(svc, IPIALES, ref, "lodge", "resume")
    task = cases.load_case(svc, ref, ME).task("lodge")
    assert task.status == "accepted"  # back to the status it had
    assert task.due_at == due + timedelta(hours=30)
    assert task.next_action_at == task.due_at
    clock.advance(timedelta(hours=21))  # 22 of the 24 hours were left when it was held
    sweep(svc)
    assert cases.load_case(svc, ref, ME).task("lodge").overdue_at is None
    clock.advance(timedelta(hours=2))
    sweep(svc)
    assert cases.load_case(svc, ref, ME).task("lodge").overdue_at is not None


# --- rejection, re-routing and referral -------------------------------------------


def test_reject_reroutes_to_each_candidate_then_returns_the_task_to_the_lead(svc, test_protocol):
    ref = immediate(svc, test_protocol)
    with pytest.raises(InvalidInput, match="reason 'other' needs a note"):
        tasks.move(svc, IPIALES, ref, "lodge", "reject", reason="other")
    tasks.move(svc, IPIALES, ref, "lodge", "reject", reason="no_capacity")
    tasks.move(svc, NARINO, ref, "lodge", "reject", reason="other", note="roof repairs")
    tasks.move(svc, NATIONAL, ref, "lodge", "reject", reason="out_of_jurisdiction")
    assert task_rows(svc, ref, "lodge") == [
        ("test-shelter-ipiales", "rejected", "directory"),
        ("test-shelter-narino", "rejected", "rerouted"),
        ("test-shelter-national", "rejected", "rerouted"),
        ("test-lead", "requested", "returned"),
    ]
    rerouted = [d for kind, d in events(svc, ref) if kind == "task_rerouted"]
    assert [(d["rejected_by"], d["routing"]) for d in rerouted] == [
        ("test-shelter-ipiales", "rerouted"),
        ("test-shelter-narino", "rerouted"),
        ("test-shelter-national", "returned"),
    ]
    rejected = [d for kind, d in events(svc, ref) if kind == "task_rejected"]
    assert [d["has_note"] for d in rejected] == [False, True, False]
    assert "roof repairs" not in str(events(svc, ref))  # the note never enters an event
    assert outbox(svc, ref, "task_rejected") == ["test-lead"] * 3
    (row,) = [r for r in inbox.inbox(svc, ME) if r.task_key == "lodge"]
    assert (row.routing, row.status) == ("returned", "requested")


def test_the_focal_point_refers_a_returned_task_to_an_institution_filling_the_role(
    svc, test_protocol
):
    carchi = Institution(
        "test-shelter-carchi", "EC", "EC-C", "Test shelter of Carchi", ("shelter",)
    )
    with svc.uow() as uow:
        uow.directory.upsert([carchi])
        uow.commit()
    ref = immediate(svc, test_protocol)
    for shelter in (IPIALES, NARINO, NATIONAL):
        tasks.move(svc, shelter, ref, "lodge", "reject", reason="no_capacity")
    with pytest.raises(NotAuthorised, match="only the requester"):
        tasks.refer(svc, IPIALES, ref, "lodge", "test-shelter-ipiales")
    with pytest.raises(InvalidInput, match="test-prosecutor does not fill the role shelter"):
        tasks.refer(svc, ME, ref, "lodge", "test-prosecutor")
    with pytest.raises(InvalidInput, match="No active institution 'test-shelter-pasto-closed'"):
        tasks.refer(svc, ME, ref, "lodge", "test-shelter-pasto-closed")
    with pytest.raises(InvalidInput, match="No active institution 'nowhere'"):
        tasks.refer(svc, ME, ref, "lodge", "nowhere")
    with pytest.raises(InvalidInput, match="test-shelter-carchi is in EC; .* in CO"):
        tasks.refer(svc, ME, ref, "lodge", "test-shelter-carchi")  # a border is a handoff
    tasks.refer(svc, ME, ref, "lodge", "test-shelter-narino")
    assert task_rows(svc, ref, "lodge")[-1] == ("test-shelter-narino", "requested", "referred")
    assert [r.task_key for r in inbox.inbox(svc, NARINO)] == ["lodge"]
    assert [r.task_key for r in inbox.inbox(svc, ME)] == []
    assert outbox(svc, ref, "task_assigned")[-1] == "test-shelter-narino"
    tasks.move(svc, NARINO, ref, "lodge", "accept")
    with pytest.raises(TaskNotOpen, match="only a task nobody has taken up yet"):
        tasks.refer(svc, ME, ref, "lodge", "test-shelter-national")


# --- what an institution sees -------------------------------------------------------

SHARES = "shares: [jurisdiction, minor, given_name, document_number]"


@pytest.fixture
def sharing_protocol():
    """The test protocol with `lodge` sharing two attributes and two person fields."""
    text = (FIXTURES / "test-protocol.yaml").read_text(encoding="utf-8")
    lodge = 'label: {es: "Alojar", pt: "Alojar", en: "Lodge"}\n'
    assert text.count(lodge) == 1
    text = text.replace(lodge, f"{lodge}            {SHARES}\n").replace(
        'version: "1"', 'version: "1-shares"'
    )
    return from_text("test-protocol-shares.yaml", text)


def test_a_task_view_shares_only_the_steps_fields_and_person_fields_only_with_consent(
    svc, sharing_protocol
):
    person = {"given_name": "Synthetica", "family_name": "Testera", "document_number": "SYN-9"}
    ref = open_case(svc, sharing_protocol, person=person)
    to_immediate(svc, ref)
    view = tasks.view_task(svc, IPIALES, ref, "lodge")
    assert view.attributes == {"jurisdiction": "CO-NAR-52356", "minor": False}
    assert view.person == {}
    assert view.withheld == ["given_name", "document_number"]
    assert view.moves == ["receive", "accept", "reject", "start", "hold", "complete", "cancel"]
    assert tasks.view_task(svc, IPIALES, ref, "find_bed").attributes == {}  # shares nothing
    cases.record_consent(svc, ref, "data_sharing", True, ME, role="committee")
    assert tasks.view_task(svc, IPIALES, ref, "lodge").person == {}  # another role's consent
    assert not [k for k, _ in events(svc, ref) if k == "personal_data_shared"]

    cases.record_consent(svc, ref, "data_sharing", True, ME, role="shelter")
    version = cases.load_case(svc, ref, ME).version
    view = tasks.view_task(svc, IPIALES, ref, "lodge")
    assert view.person == {"given_name": "Synthetica", "document_number": "SYN-9"}
    assert view.withheld == []
    assert "family_name" not in view.person  # not shared by the step, consent or not
    assert view.case_version == version
    assert cases.load_case(svc, ref, ME).version == version  # reading is not a change
    shared = [d for k, d in events(svc, ref) if k == "personal_data_shared"]
    assert shared == [
        {
            "task": "lodge",
            "task_id": view.task_id,
            "institution": "test-shelter-ipiales",
            "fields": ["document_number", "given_name"],
        }
    ]
    assert "Synthetica" not in str(events(svc, ref))
    for role in ("manager", "admin"):  # of the same institution: no case data, no identity
        other = Actor(f"{role}@ipiales", role, "test-shelter-ipiales", frozenset({"CO"}))
        with pytest.raises(NotAuthorised, match="may not see task 'lodge'"):
            tasks.view_task(svc, other, ref, "lodge")


def test_general_consent_to_share_data_covers_every_role_until_withdrawn(svc, sharing_protocol):
    ref = open_case(svc, sharing_protocol, person={"given_name": "Synthetica"})
    cases.record_consent(svc, ref, "data_sharing", True, ME)
    to_immediate(svc, ref)
    assert tasks.view_task(svc, IPIALES, ref, "lodge").person == {"given_name": "Synthetica"}
    cases.record_consent(svc, ref, "data_sharing", False, ME, role="shelter")
    case = cases.load_case(svc, ref, ME)
    assert case.task("lodge").status == "cancelled"  # withdrawn for the role: its tasks end
    view = tasks.view_task(svc, IPIALES, ref, "lodge")
    assert (view.person, view.withheld, view.moves) == ({}, ["given_name", "document_number"], [])


# --- the inbox list and compliance -------------------------------------------------


def test_the_inbox_lists_only_the_institutions_tasks_with_filters(svc, test_protocol, clock):
    first = immediate(svc, test_protocol)
    clock.advance(timedelta(hours=1))
    second = immediate(svc, test_protocol)
    tasks.move(svc, IPIALES, second, "lodge", "accept")
    start = cases.load_case(svc, first, ME).opened_at

    def listed(actor=IPIALES, **filters) -> list[tuple[str, str]]:
        return [(r.case_ref, r.task_key) for r in inbox.inbox(svc, actor, **filters)]

    # soonest due first: find_bed is due in 12 hours, lodge in 24
    assert listed() == [
        (first, "find_bed"),
        (second, "find_bed"),
        (first, "lodge"),
        (second, "lodge"),
    ]
    assert listed(statuses=["accepted"]) == [(second, "lodge")]
    assert listed(statuses=["accepted", "requested"], case_ref=first) == [
        (first, "find_bed"),
        (first, "lodge"),
    ]
    assert listed(due_before=start + timedelta(hours=12)) == [(first, "find_bed")]
    assert listed(country="CO", case_ref=second) == [(second, "find_bed"), (second, "lodge")]
    assert listed(country="PE") == []
    assert listed(statuses=["completed"]) == []
    assert listed(NARINO) == []  # its department's cases go to the more specific Ipiales
    assert listed(ME) == []  # characterise was completed and admit cancelled
    assert listed(ME, statuses=["completed"]) == [(first, "characterise"), (second, "characterise")]
    with pytest.raises(NotAuthorised, match="may not open the inbox of test-shelter-ipiales"):
        inbox.inbox(svc, NARINO, "test-shelter-ipiales")
    with pytest.raises(NotAuthorised, match="may not open the inbox"):
        inbox.inbox(svc, ME, "test-shelter-ipiales")
    assert [r.task_key for r in inbox.inbox(svc, SYSTEM, "test-shelter-ipiales")] == [
        "find_bed",
        "find_bed",
        "lodge",
        "lodge",
    ]


def test_compliance_counts_on_time_late_overdue_rejected_and_routing_gaps(
    svc, test_protocol, clock
):
    ref = immediate(svc, test_protocol, MINOR)  # characterise: completed on time
    tasks.move(svc, IPIALES, ref, "lodge", "reject", reason="no_capacity")  # -> Narino
    clock.advance(timedelta(hours=13))
    tasks.move(svc, IPIALES, ref, "find_bed", "complete")  # due in 12 hours: late
    clock.advance(timedelta(hours=12))  # lodge in Narino is now overdue (due in 24 hours)
    assert compliance.counts(svc, SYSTEM, {"CO"}) == [
        ComplianceCounts(
            country="CO",
            open=2,  # lodge in Narino, best_interests_determination (a gap)
            overdue_now=1,
            completed_on_time=1,
            completed_late=1,
            rejected=1,
            cancelled=1,  # admit: the case left `identified`
            routing_gaps=1,
        )
    ]
    assert compliance.counts(svc, SYSTEM, {"CO"})[0].on_time_rate == 0.5
    assert compliance.counts(svc, SYSTEM, {"PE"}) == []
    assert compliance.routing_gaps(svc, SYSTEM, {"CO"}) == [("CO", "child_authority", 1)]
    assert compliance.routing_gaps(svc, ME) == [("CO", "child_authority", 1)]
    with pytest.raises(NotAuthorised, match="may not read compliance for PE"):
        compliance.routing_gaps(svc, ME, {"CO", "PE"})


def test_a_minors_child_protection_task_is_a_routing_gap_for_the_coordinator(svc, test_protocol):
    ref = open_case(svc, test_protocol, MINOR)
    (task,) = [t for t in cases.load_case(svc, ref, ME).tasks if t.track == "child_protection"]
    assert (task.key, task.role) == ("best_interests_determination", "child_authority")
    assert (task.institution, task.routing) == ("test-coordination", "gap")
    (gap,) = [d for k, d in events(svc, ref) if k == "routing_gap"]
    assert gap["role"] == "child_authority"
    assert gap["jurisdiction"] == "CO-NAR-52356"
    coordination = officer("test-coordination")
    assert [r.routing for r in inbox.inbox(svc, coordination)] == ["gap"]
    open_case(svc, test_protocol)  # an adult's case adds no gap
    assert compliance.routing_gaps(svc, SYSTEM, {"CO"}) == [("CO", "child_authority", 1)]
    # the coordinator cannot do it either: nobody else fills the role, so it goes back
    tasks.move(svc, coordination, ref, task.key, "reject", reason="not_competent")
    assert task_rows(svc, ref, task.key) == [
        ("test-coordination", "rejected", "gap"),
        ("test-lead", "requested", "returned"),
    ]


# --- consent ------------------------------------------------------------------------


def test_withdrawing_consent_cancels_only_the_tasks_it_covered(svc, test_protocol):
    ref = immediate(svc, test_protocol)
    cases.record_consent(svc, ref, "assistance", False, ME)
    case = cases.load_case(svc, ref, ME)
    lodge, find_bed = case.task("lodge"), case.task("find_bed")
    assert (lodge.status, lodge.reason) == ("cancelled", "consent_withdrawn")
    assert find_bed.status == "requested"  # the shelter track does not depend on assistance
    assert outbox(svc, ref, "consent_withdrawn") == ["test-shelter-ipiales"]
    assert [k for k, _ in events(svc, ref) if k.startswith("consent")][-1] == ("consent_withdrawn")


def test_withdrawing_data_sharing_tells_each_affected_institution_once(svc, test_protocol):
    ref = open_case(svc, test_protocol, MINOR)
    cases.record_consent(svc, ref, "data_sharing", True, ME)
    to_immediate(svc, ref)
    cases.record_consent(svc, ref, "data_sharing", False, ME)
    case = cases.load_case(svc, ref, ME)
    assert case.open_tasks() == []
    assert {t.key: t.reason for t in case.tasks if t.reason == "consent_withdrawn"} == {
        "lodge": "consent_withdrawn",
        "find_bed": "consent_withdrawn",
        "best_interests_determination": "consent_withdrawn",
    }
    assert sorted(outbox(svc, ref, "consent_withdrawn")) == [
        "test-coordination",
        "test-shelter-ipiales",
    ]


def test_a_legal_basis_keeps_the_child_protection_referral_when_consent_is_withdrawn(
    svc, test_protocol
):
    ref = open_case(svc, test_protocol, MINOR)
    cases.record_consent(
        svc, ref, "data_sharing", True, ME, role="child_authority", legal_basis=LEGAL_BASIS
    )
    cases.record_consent(svc, ref, "data_sharing", True, ME)
    to_immediate(svc, ref)
    cases.record_consent(svc, ref, "data_sharing", False, ME)
    cases.record_consent(svc, ref, "data_sharing", False, ME, role="child_authority")
    case = cases.load_case(svc, ref, ME)
    assert [t.key for t in case.open_tasks()] == ["best_interests_determination"]
    assert case.task("lodge").reason == "consent_withdrawn"
    assert outbox(svc, ref, "consent_withdrawn") == ["test-shelter-ipiales"]
    (basis,) = [d for k, d in events(svc, ref) if k == "legal_basis_recorded"]
    assert (basis["purpose"], basis["role"], basis["legal_basis"]) == (
        "data_sharing",
        "child_authority",
        LEGAL_BASIS,
    )


# --- concurrency ---------------------------------------------------------------------


def test_an_inbox_move_on_a_stale_version_is_refused_and_nothing_changes(svc, test_protocol):
    ref = immediate(svc, test_protocol)
    loaded = cases.load_case(svc, ref, ME).version
    tasks.move(svc, IPIALES, ref, "lodge", "accept", expected_version=loaded)
    with pytest.raises(ConcurrentChange, match="changed since you loaded it"):
        tasks.move(
            svc, IPIALES, ref, "find_bed", "hold", reason="security", expected_version=loaded
        )
    with pytest.raises(ConcurrentChange):
        tasks.assign(svc, IPIALES, ref, "lodge", None, expected_version=loaded)
    case = cases.load_case(svc, ref, ME)
    assert case.version == loaded + 1
    assert (case.task("lodge").status, case.task("find_bed").status) == ("accepted", "requested")


def test_a_general_legal_basis_also_stands_when_consent_is_withdrawn_for_one_role(
    svc, test_protocol
):
    ref = open_case(svc, test_protocol, MINOR)
    cases.record_consent(svc, ref, "data_sharing", True, ME, legal_basis=LEGAL_BASIS)
    cases.record_consent(svc, ref, "data_sharing", False, ME, role="child_authority")
    cases.record_consent(svc, ref, "data_sharing", False, ME)
    case = cases.load_case(svc, ref, ME)
    assert case.task("best_interests_determination").status == "requested"
    assert case.task("characterise").status == "requested"
    assert outbox(svc, ref, "consent_withdrawn") == []
