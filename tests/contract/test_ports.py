"""One suite, every adapter: the in-memory ports and the SQL ones on SQLite and PostgreSQL
answer the same way, so the engine and use-case tests that run on the fakes hold on the
databases too. What only a database shows (locks between processes, triggers, the hash
chain, migrations) is tested in tests/integration/.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from institutions.domain import Institution, User
from institutions.errors import UnknownInstitution
from protocols.errors import UnknownProtocol
from tests.conftest import FOCAL_CO, START, SYSTEM, officer
from workflows.domain.case import Event
from workflows.domain.errors import ConcurrentChange, UnclaimedChange, UnknownCase
from workflows.domain.events import EventKind
from workflows.domain.ports import ComplianceCounts, PinnedVersion, Services
from workflows.services import cases, tasks

ADULT = {"jurisdiction": "CO-NAR", "minor": False, "nationality": "VE"}
CHILD = {"jurisdiction": "CO-NAR-52356", "minor": True, "nationality": "VE"}
PERSON = {"given_name": "Prueba", "family_name": "Sintética", "document_number": "SYN-000-111"}


def opened(svc: Services, test_protocol, attributes=ADULT, person=None) -> str:
    return cases.open_case(svc, test_protocol, attributes, FOCAL_CO, person)


def to_immediate(svc: Services, ref: str) -> None:
    tasks.move(svc, FOCAL_CO, ref, "characterise", "complete", outcome={"modality": "internal"})
    cases.record_consent(svc, ref, "assistance", True, FOCAL_CO)
    cases.fire(svc, ref, "care", "admit_immediate", FOCAL_CO)


# --- the case repository -------------------------------------------------------------------


def test_references_count_per_country_and_year_and_an_abandoned_one_is_given_again(ports):
    with ports.uow() as uow:
        assert uow.cases.next_ref("CO", 2026) == "CO-2026-000001"
        assert uow.cases.next_ref("CO", 2026) == "CO-2026-000002"
        assert uow.cases.next_ref("PE", 2026) == "PE-2026-000001"
        assert uow.cases.next_ref("CO", 2027) == "CO-2027-000001"
    with ports.uow() as uow:  # nothing was committed
        assert uow.cases.next_ref("CO", 2026) == "CO-2026-000001"
        uow.commit()
    with ports.uow() as uow:
        assert uow.cases.next_ref("CO", 2026) == "CO-2026-000002"


def test_a_saved_case_loads_back_whole(ports, test_protocol, clock):
    ref = opened(ports, test_protocol, CHILD, PERSON)
    to_immediate(ports, ref)
    cases.approve(ports, ref, "plan", "committee", SYSTEM)
    cases.set_attributes(ports, ref, {"risk": "medium"}, FOCAL_CO)
    tasks.move(ports, SYSTEM, ref, "lodge", "hold", reason="other", note="nota sintética")
    clock.advance(timedelta(hours=2))
    tasks.move(ports, SYSTEM, ref, "lodge", "resume")
    case = cases.load_case(ports, ref, FOCAL_CO)
    assert (case.ref, case.country, case.version, case.protocol_hash) == (
        ref,
        "CO",
        8,
        test_protocol.content_hash,
    )
    assert case.attributes == {**CHILD, "risk": "medium"}
    assert case.lead_institution == "test-lead"
    assert {n: t.state for n, t in case.tracks.items()} == {
        "care": "immediate",
        "justice": "no_complaint",
        "child_protection": "referred",
        "shelter": "requested",
    }
    assert [(t.key, t.status, t.institution, t.routing) for t in case.tasks] == [
        ("characterise", "completed", "test-lead", "directory"),
        ("best_interests_determination", "requested", "test-coordination", "gap"),
        ("admit", "cancelled", "test-lead", "directory"),
        ("lodge", "requested", "test-shelter-ipiales", "directory"),
        ("find_bed", "requested", "test-shelter-ipiales", "directory"),
    ]
    assert all(t.id is not None for t in case.tasks)
    assert len({t.id for t in case.tasks}) == len(case.tasks)
    characterise, lodge = case.task("characterise"), case.task("lodge")
    assert characterise is not None
    assert characterise.outcome == {"modality": "internal"}
    assert lodge is not None
    assert lodge.note == "nota sintética"
    assert lodge.due_at == START + timedelta(hours=26)  # two hours on hold moved it
    assert [(d.track, d.state, d.status) for d in case.deadlines] == [
        ("justice", "no_complaint", "running"),
        ("care", "immediate", "running"),
    ]
    assert [(c.purpose, c.given) for c in case.consents] == [("assistance", True)]
    assert [(a.name, a.role) for a in case.approvals] == [("plan", "committee")]
    assert not case.new_events
    assert not case.new_notifications


def test_events_are_kept_in_order_and_typed(ports, test_protocol):
    ref = opened(ports, test_protocol, person=PERSON)
    with ports.uow() as uow:
        events = uow.cases.events(uow.cases.get(ref))
    kinds = [e.kind for e in events]
    assert kinds[:3] == [
        EventKind.case_opened,
        EventKind.personal_data_recorded,
        EventKind.track_opened,
    ]
    assert all(isinstance(e, Event) and isinstance(e.kind, EventKind) for e in events)
    assert events[1].data == {"fields": sorted(PERSON)}  # the names, never the values


def test_a_claim_on_a_case_changed_since_it_was_loaded_loses(ports, test_protocol):
    ref = opened(ports, test_protocol)
    with ports.uow() as first:
        stale = first.cases.get(ref)
    with ports.uow() as second:
        fresh = second.cases.get(ref)
        second.cases.claim(fresh)
        second.commit()
    with ports.uow() as third, pytest.raises(ConcurrentChange, match="Reload the case"):
        third.cases.claim(stale)
    with ports.uow() as uow:
        assert uow.cases.get(ref).version == 2
        assert [c.ref for c in uow.cases.take([ref, "CO-2026-999999"])] == [ref]


def test_what_is_not_committed_is_not_kept(ports, test_protocol):
    with ports.uow() as uow:
        ref = cases.new_case(ports, uow, test_protocol, ADULT, FOCAL_CO, PERSON).ref
        assert uow.cases.get(ref).ref == ref  # a unit of work reads its own writes
    with ports.uow() as uow:
        with pytest.raises(UnknownCase, match="reads like CO-2026-000123"):
            uow.cases.get(ref)
        assert uow.outbox.counts() == {}
        assert uow.protocols.hashes() == []
    assert opened(ports, test_protocol) == ref  # the reference was not used up


def test_the_person_record_is_kept_found_by_document_and_forgotten(ports, test_protocol, clock):
    ref = opened(ports, test_protocol, person=PERSON)
    other = opened(ports, test_protocol, person={**PERSON, "document_number": "SYN-999"})
    bare = opened(ports, test_protocol)
    with ports.uow() as uow:
        case = uow.cases.get(ref)
        assert uow.cases.person(case) == PERSON
        assert uow.cases.has_person(case)
        assert not uow.cases.has_person(uow.cases.get(bare))
        assert uow.cases.person(uow.cases.get(bare)) == {}
        assert uow.cases.with_document(" syn 000.111 ") == [ref]
        assert uow.cases.with_document("SYN999") == [other]
        assert uow.cases.with_document("SYN-404") == []
    tasks.move(ports, SYSTEM, ref, "characterise", "hold", reason="other", note="nota")
    with ports.uow() as uow:
        assert uow.cases.holding_personal_data(clock.now()) == []  # not closed
    with ports.uow() as uow:
        case = uow.cases.get(ref)
        assert uow.cases.forget_person(case) == (sorted(PERSON), 1)
        uow.commit()
    with ports.uow() as uow:
        case = uow.cases.get(ref)
        assert uow.cases.person(case) == {}
        assert not uow.cases.has_person(case)
        assert case.task("characterise").note is None
        assert uow.cases.with_document("SYN-000-111") == []


def test_closed_cases_holding_personal_data_are_listed_oldest_closure_first(
    ports, test_protocol, clock
):
    first, second = (opened(ports, test_protocol, person=PERSON) for _ in range(2))
    kept = opened(ports, test_protocol)  # closed, but no personal data
    for ref in (second, first, kept):
        _close(ports, ref)
        clock.advance(timedelta(days=1))
    with ports.uow() as uow:
        held = uow.cases.holding_personal_data(clock.now())
        assert [h.ref for h in held] == [second, first]
        assert all(h.protocol_hash == test_protocol.content_hash for h in held)
        assert [h.ref for h in uow.cases.holding_personal_data(START)] == [second]


def _close(svc: Services, ref: str) -> None:
    """Take a test case to its final state: characterise, admit, expire, close."""
    tasks.move(svc, SYSTEM, ref, "characterise", "complete", outcome={"modality": "internal"})
    cases.record_consent(svc, ref, "assistance", True, SYSTEM)
    cases.fire(svc, ref, "care", "admit_immediate", SYSTEM)
    cases.fire(svc, ref, "care", "period_expired", SYSTEM)
    cases.fire(svc, ref, "care", "close_case", SYSTEM)


def test_messages_and_task_notices_are_read_by_case_and_task(ports, test_protocol):
    ref = opened(ports, test_protocol)
    tasks.move(ports, SYSTEM, ref, "characterise", "reject", reason="no_capacity")
    with ports.uow() as uow:
        case = uow.cases.get(ref)
        assert uow.cases.queued_notifications(case) == [
            {"template": "task_assigned", "role": "lead", "institution": "test-lead",
             "task_key": "characterise", "level": None},
            {"template": "task_assigned", "role": "lead", "institution": "test-lead",
             "task_key": "characterise", "level": None},
            {"template": "task_rejected", "role": "lead", "institution": "test-lead",
             "task_key": "characterise", "level": None},
        ]  # fmt: skip
        rejected = case.tasks[0]
        assert rejected.id is not None
        notice = uow.cases.task_notice(rejected.id)
        assert notice is not None
        assert (notice.due_at, notice.reason, notice.handoff) == (
            rejected.due_at,
            "no_capacity",
            None,
        )
        assert uow.cases.task_notice(10**9) is None


def test_due_cases_are_those_with_a_task_or_deadline_whose_next_action_has_come(
    ports, test_protocol
):
    refs = [opened(ports, test_protocol) for _ in range(3)]
    with ports.uow() as uow:
        assert uow.cases.due_refs(START, 10) == []
        later = START + timedelta(days=2)  # characterise: due after 1 business day
        assert uow.cases.due_refs(later, 10) == refs
        assert uow.cases.due_refs(later, 2) == refs[:2]


# --- protocols --------------------------------------------------------------------------


def test_pinned_protocols_are_kept_by_hash_with_their_case_counts(ports, test_protocol):
    with ports.uow() as uow:
        with pytest.raises(UnknownProtocol, match="No stored protocol version"):
            uow.protocols.pinned("0" * 64)
        assert uow.protocols.versions("CO-TEST") == []
        assert uow.protocols.hashes() == []
    opened(ports, test_protocol)
    opened(ports, test_protocol)
    with ports.uow() as uow:
        assert uow.protocols.pinned(test_protocol.content_hash).id == "CO-TEST"
        assert uow.protocols.hashes() == [test_protocol.content_hash]
        assert uow.protocols.versions("CO-TEST") == [
            PinnedVersion("1", test_protocol.content_hash, START, 2)
        ]
        assert uow.protocols.versions("PE-TRATA") == []


# --- the inbox --------------------------------------------------------------------------


def test_an_inbox_lists_an_institutions_tasks_soonest_due_first_with_filters(
    ports, test_protocol, clock
):
    first = opened(ports, test_protocol)
    clock.advance(timedelta(hours=1))
    second = opened(ports, test_protocol, CHILD)
    with ports.uow() as uow:
        rows = uow.inbox.tasks("test-lead")
        assert [(r.case_ref, r.task_key, r.status) for r in rows] == [
            (first, "characterise", "requested"),
            (second, "characterise", "requested"),
        ]
        row = rows[0]
        assert (row.country, row.track, row.role, row.routing, row.owner, row.overdue) == (
            "CO",
            "care",
            "lead",
            "directory",
            None,
            False,
        )
        assert row.case_version == 1
        assert row.created_at == START
        assert [r.case_ref for r in uow.inbox.tasks("test-lead", case_ref=second)] == [second]
        assert uow.inbox.tasks("test-lead", country="PE") == []
        assert uow.inbox.tasks("test-lead", statuses=["completed"]) == []
        assert uow.inbox.tasks("test-lead", due_before=START) == []
        assert [r.case_ref for r in uow.inbox.tasks("test-lead", limit=1, offset=1)] == [second]
        gap = uow.inbox.tasks("test-coordination")
        assert [(r.task_key, r.routing) for r in gap] == [("best_interests_determination", "gap")]


def test_task_counts_per_country_and_routing_gaps(ports, test_protocol, clock):
    done, late = opened(ports, test_protocol), opened(ports, test_protocol, CHILD)
    tasks.move(ports, SYSTEM, done, "characterise", "complete", outcome={"modality": "internal"})
    clock.advance(timedelta(days=3))
    tasks.move(ports, SYSTEM, late, "characterise", "complete", outcome={"modality": "internal"})
    tasks.move(ports, SYSTEM, late, "admit", "reject", reason="no_capacity")
    with ports.uow() as uow:
        (co,) = uow.inbox.compliance(["CO", "PE"], clock.now())
        assert co == ComplianceCounts(
            country="CO",
            open=3,
            overdue_now=1,
            completed_on_time=1,
            completed_late=1,
            rejected=1,
            cancelled=0,
            routing_gaps=1,
        )
        assert uow.inbox.compliance(["PE"], clock.now()) == []
        assert uow.inbox.routing_gaps(["CO"]) == [("CO", "child_authority", 1)]
        assert uow.inbox.countries() == ["CO"]
        uow.inbox.record_snapshot(clock.now(), [co])
        uow.commit()


# --- the outbox -------------------------------------------------------------------------


def test_the_outbox_hands_each_message_to_one_claimer_until_its_lease_runs_out(
    ports, test_protocol
):
    ref = opened(ports, test_protocol)
    lease = timedelta(minutes=5)
    with ports.uow() as uow:
        (row,) = uow.outbox.claim(START, 10, "first", lease)
        uow.commit()
    assert (row.case_ref, row.country, row.template, row.institution, row.attempts) == (
        ref,
        "CO",
        "task_assigned",
        "test-lead",
        0,
    )
    assert row.protocol_hash == test_protocol.content_hash
    assert row.task_key == "characterise"
    with ports.uow() as uow:
        assert uow.outbox.claim(START + timedelta(minutes=1), 10, "second", lease) == []
        assert uow.outbox.counts() == {"sending": 1}
    with ports.uow() as uow:  # the first worker died: after the lease another takes it
        (again,) = uow.outbox.claim(START + timedelta(minutes=6), 10, "second", lease)
        uow.commit()
    assert again.id == row.id
    with ports.uow() as uow:
        assert not uow.outbox.sent(row.id, "first", START, "late")  # its claim is gone
        assert uow.outbox.retry(row.id, "second", 1, START + timedelta(hours=1), "429")
        uow.commit()
    with ports.uow() as uow:
        assert uow.outbox.claim(START + timedelta(minutes=30), 10, "third", lease) == []
        (retried,) = uow.outbox.claim(START + timedelta(hours=1), 10, "third", lease)
        assert retried.attempts == 1
        assert uow.outbox.dead(retried.id, "third", 2, "400 bad request" * 300)
        uow.commit()
    with ports.uow() as uow:
        assert uow.outbox.counts() == {"dead": 1}


def test_sending_marks_a_message_sent_once(ports, test_protocol):
    opened(ports, test_protocol)
    opened(ports, test_protocol)
    with ports.uow() as uow:
        rows = uow.outbox.claim(START, 1, "w", timedelta(minutes=5))
        assert len(rows) == 1  # the limit
        assert uow.outbox.sent(rows[0].id, "w", START, "provider-1")
        assert not uow.outbox.sent(rows[0].id, "w", START, "provider-2")
        uow.commit()
    with ports.uow() as uow:
        assert uow.outbox.counts() == {"sent": 1, "pending": 1}


def test_a_claim_is_renewed_only_by_its_holder_before_its_lease_runs_out(ports, test_protocol):
    opened(ports, test_protocol)
    lease = timedelta(minutes=5)
    with ports.uow() as uow:
        (row,) = uow.outbox.claim(START, 10, "first", lease)
        assert uow.outbox.renew(row.id, "first", START + timedelta(minutes=4), lease)
        assert not uow.outbox.renew(row.id, "other", START + timedelta(minutes=4), lease)
        uow.commit()
    with ports.uow() as uow:  # renewed at 4 min: nobody may take it until 9 min
        assert uow.outbox.claim(START + timedelta(minutes=8), 10, "second", lease) == []
        assert not uow.outbox.renew(row.id, "first", START + timedelta(minutes=9), lease)
        (taken,) = uow.outbox.claim(START + timedelta(minutes=9, seconds=1), 10, "second", lease)
        uow.commit()
    with ports.uow() as uow:  # the first lost it: renewing fails, so it must not send
        assert not uow.outbox.renew(taken.id, "first", START + timedelta(minutes=10), lease)
        assert uow.outbox.renew(taken.id, "second", START + timedelta(minutes=10), lease)
        assert uow.outbox.sent(taken.id, "second", START + timedelta(minutes=10), "p-1")
        assert not uow.outbox.renew(taken.id, "second", START + timedelta(minutes=10), lease)
        uow.commit()


def test_ambiguous_retries_are_counted_on_the_message(ports, test_protocol):
    opened(ports, test_protocol)
    lease = timedelta(minutes=5)
    with ports.uow() as uow:
        (row,) = uow.outbox.claim(START, 10, "w", lease)
        assert row.ambiguous_retries == 0
        assert uow.outbox.retry(row.id, "w", 1, START, "timed out", row.ambiguous_retries + 1)
        uow.commit()
    with ports.uow() as uow:
        (row,) = uow.outbox.claim(START, 10, "w2", lease)
        assert (row.attempts, row.ambiguous_retries) == (1, 1)
        assert uow.outbox.retry(row.id, "w2", 2, START, "503")  # not ambiguous: kept as it was
        uow.commit()
    with ports.uow() as uow:
        (row,) = uow.outbox.claim(START, 10, "w3", lease)
        assert (row.attempts, row.ambiguous_retries) == (2, 1)
        uow.commit()


# --- the directory ------------------------------------------------------------------------


def test_the_directory_routes_reads_and_keeps_what_is_written(ports):
    with ports.uow() as uow:
        d = uow.directory
        assert [i.id for i in d.candidates("CO", "shelter", "CO-NAR-52356")] == [
            "test-shelter-ipiales",
            "test-shelter-narino",
            "test-shelter-national",
        ]
        assert d.candidates("CO", "child_authority", "CO") == []
        ipiales = d.institution("test-shelter-ipiales")
        assert ipiales is not None
        assert ipiales.roles == ("shelter",)
        assert d.institution("nobody") is None
        assert [i.id for i in d.institutions("CO")][:2] == ["test-committee", "test-coordination"]
        assert d.institutions("PE") == []
        new = Institution(
            "test-shelter-pasto", "CO", "CO-NAR-52001", "Test shelter of Pasto", ("shelter",)
        )
        assert d.upsert([new]) == 1
        d.save_user(User("mgr", "test-lead", "manager", frozenset({"CO"}), email="m@x.org"))
        with pytest.raises(UnknownInstitution, match="users belong to an institution"):
            d.save_user(User("ghost", "nowhere", "officer"))
        uow.commit()
    with ports.uow() as uow:
        d = uow.directory
        assert d.candidates("CO", "shelter", "CO-NAR-52001")[0].id == "test-shelter-pasto"
        assert [u.username for u in d.managers("CO")] == ["mgr"]
        assert d.managers("PE") == []
        assert [u.username for u in d.users("test-lead")] == ["mgr"]
        user = d.user("mgr")
        assert user is not None
        assert user.email == "m@x.org"


def test_officers_of_an_institution_see_its_own_tasks_only(ports, test_protocol):
    ref = opened(ports, test_protocol)
    to_immediate(ports, ref)
    with ports.uow() as uow:
        shelter = uow.inbox.tasks("test-shelter-narino")
    assert {r.task_key for r in shelter} == {"lodge", "find_bed"}
    view = tasks.view_task(ports, officer("test-shelter-narino"), ref, "lodge")
    assert view.institution == "test-shelter-narino"
    assert view.person == {}


# --- accounts ---------------------------------------------------------------------------


def test_sign_in_counts_failures_locks_the_account_and_finds_users_by_address(ports, clock):
    from institutions.accounts import LOCKOUT, MAX_FAILURES, REFUSED, SignInRefused, hash_password
    from workflows.services import accounts

    secret = "correct horse battery staple"
    with ports.uow() as uow:
        user = User("ana", "test-lead", "focal_point", frozenset({"CO"}), email="Ana@Test.org")
        uow.directory.save_user(user, password_hash=hash_password(secret))
        uow.commit()
    assert accounts.sign_in(ports, " ana ", secret) == user

    def refused(name: str, password: str) -> str:
        with pytest.raises(SignInRefused) as caught:
            accounts.sign_in(ports, name, password)
        assert str(caught.value) == REFUSED  # one message for every refusal
        return caught.value.code

    assert [refused("ana", "wrong password!") for _ in range(MAX_FAILURES)] == ["wrong"] * (
        MAX_FAILURES - 1
    ) + ["locked"]
    assert refused("ana", secret) == "locked"  # even the right password, while locked
    clock.advance(LOCKOUT)
    assert accounts.sign_in(ports, "ana", secret) == user
    assert refused("nobody", secret) == "unknown"
    assert accounts.by_email(ports, "ana@test.org") == user
    assert accounts.by_email(ports, "  ") is None
    assert accounts.by_email(ports, "other@test.org") is None


def test_failures_are_counted_atomically_and_a_lock_that_ran_out_counts_anew(ports, clock):
    from institutions.accounts import LOCKOUT

    now = clock.now()
    with ports.uow() as uow:
        uow.directory.save_user(User("ana", "test-lead", "officer"), password_hash="x")
        uow.commit()
    with ports.uow() as uow:
        counts = [uow.accounts.record_failure("ana", now, 3, LOCKOUT) for _ in range(4)]
        assert counts == [1, 2, 3, None]  # the third locks; a locked account counts nothing
        assert uow.accounts.credentials("ana") == ("x", 3, now + LOCKOUT)
        assert uow.accounts.record_success("ana", now) is False
        assert uow.accounts.record_failure("nobody", now, 3, LOCKOUT) is None
        uow.commit()
    later = now + LOCKOUT
    with ports.uow() as uow:
        assert uow.accounts.record_failure("ana", later, 3, LOCKOUT) == 1
        assert uow.accounts.credentials("ana") == ("x", 1, None)
        assert uow.accounts.record_success("ana", later) is True
        assert uow.accounts.credentials("ana") == ("x", 0, None)
        uow.accounts.record_failure("ana", later, 3, LOCKOUT)
        uow.accounts.set_password("ana", "y")  # a new password clears the count
        assert uow.accounts.credentials("ana") == ("y", 0, None)


def test_events_of_no_case_are_kept_in_order_apart_from_the_cases_events(
    ports, test_protocol, clock
):
    opened(ports, test_protocol)  # a case's events are not events of no case
    added = Event(EventKind.user_added, clock.now(), "system:cli", {"username": "ana"})
    off = Event(EventKind.user_deactivated, clock.now(), "system:cli", {"username": "ana"})
    with ports.uow() as uow:
        uow.events.record(added)
        assert uow.events.recorded() == [added]  # a unit of work reads its own writes
    with ports.uow() as uow:  # not committed: not kept
        assert uow.events.recorded() == []
        uow.events.record(added)
        uow.events.record(off)
        uow.commit()
    with ports.uow() as uow:
        assert uow.events.recorded() == [added, off]
        assert uow.events.recorded(limit=1) == [off]


def test_a_directory_change_rolled_back_is_forgotten_and_a_committed_one_is_seen(ports):
    """The SQL directory keeps what it read per process while the database's revision stands
    (institutions/store.py): a change is seen at once, a rolled-back one never."""
    with ports.uow() as uow:
        assert uow.directory.candidates("CO", "shelter", "CO-NAR-52356")[0].id == (
            "test-shelter-ipiales"
        )
    ipiales = Institution(
        "test-shelter-ipiales", "CO", "CO-NAR-52356", "Test shelter of Ipiales", ("shelter",)
    )
    with ports.uow() as uow:  # closed, then rolled back
        uow.directory.upsert([replace(ipiales, active=False)])
        assert uow.directory.candidates("CO", "shelter", "CO-NAR-52356")[0].id != ipiales.id
    with ports.uow() as uow:
        assert uow.directory.candidates("CO", "shelter", "CO-NAR-52356")[0].id == ipiales.id
    with ports.uow() as uow:  # closed for good
        uow.directory.upsert([replace(ipiales, active=False)])
        uow.commit()
    with ports.uow() as uow:
        assert uow.directory.candidates("CO", "shelter", "CO-NAR-52356")[0].id == (
            "test-shelter-narino"
        )
    with ports.uow() as uow:  # and open again
        uow.directory.upsert([ipiales])
        uow.commit()
    with ports.uow() as uow:
        assert uow.directory.candidates("CO", "shelter", "CO-NAR-52356")[0].id == ipiales.id


def test_only_events_may_be_saved_without_a_claim(ports, test_protocol, clock):
    ref = opened(ports, test_protocol)
    with ports.uow() as uow:  # an event alone: reading personal data leaves one
        case = uow.cases.get(ref)
        case.record(EventKind.personal_data_viewed, clock.now(), "test", reason="case_work")
        uow.cases.save(case)
        uow.commit()
    with ports.uow() as uow:
        case = uow.cases.get(ref)
        case.attributes["risk"], case.attributes_dirty = "high", True
        with pytest.raises(UnclaimedChange, match=f"Case {ref} was changed but not claimed"):
            uow.cases.save(case)
    with ports.uow() as uow:
        case = uow.cases.get(ref)
        uow.cases.claim(case)
        uow.commit()  # a claim ends with its transaction
        case.attributes["risk"], case.attributes_dirty = "high", True
        with pytest.raises(UnclaimedChange):
            uow.cases.save(case)
    with ports.uow() as uow:
        case = uow.cases.get(ref)
        assert "risk" not in case.attributes
        assert uow.cases.events(case)[-1].kind == EventKind.personal_data_viewed
