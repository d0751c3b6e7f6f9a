"""The outbox dispatcher: recipients, retries, dead letters, leases, ambiguous retries, no
personal data."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from faker import Faker
from sqlalchemy import insert, select
from typer.testing import CliRunner

from institutions.store import SqlDirectory
from notifications.messages import LOCALES, TEMPLATES
from notifications.senders import InMemoryEmailSender, Permanent, RetryLater
from notifications.sendgrid_sender import SendGridEmailSender
from ruta import bootstrap
from ruta.cli import app
from tests.conftest import FOCAL_CO, SYSTEM, TEST_KEY, VAULT
from tests.fakes import FakeSendGrid, Reply
from workflows.domain.clocks import SystemClock
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.services.dispatch import MAX_ATTEMPTS, DispatchReport, dispatch
from workflows.store import tables
from workflows.store.uow import SqlUnitOfWork

CONSOLE = "http://127.0.0.1:8501"
ADULT = {"jurisdiction": "CO-NAR", "minor": False, "nationality": "VE"}


def statuses(svc) -> dict[int, str]:
    with svc.uow() as uow:
        o = tables.outbox
        return dict(uow.connection.execute(select(o.c.id, o.c.status)).all())


def queue(svc, ref: str, template: str, count: int = 1, role: str = "lead") -> list[int]:
    """Outbox rows as the engine writes them (direct insert: many rows, fast)."""
    with svc.uow() as uow:
        case = uow.cases.get(ref)
        rows = [
            dict(
                case_id=case.id,
                template=template,
                role=role,
                institution="test-lead",
                task_key="characterise",
                task_id=case.tasks[0].id,
                status="pending",
                created_at=svc.clock.now(),
                next_attempt_at=svc.clock.now(),
            )
            for _ in range(count)
        ]
        ids = [
            uow.connection.execute(insert(tables.outbox).values(**row)).inserted_primary_key[0]
            for row in rows
        ]
        uow.commit()
    return ids


def test_messages_go_to_the_institutions_addresses_in_its_language(svc, test_protocol):
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    sender = InMemoryEmailSender()
    report = dispatch(svc, sender, CONSOLE)
    assert (report.claimed, report.sent, report.dead) == (1, 1, 0)
    (email,) = sender.sent
    assert email.to == ("lead@test.example.org",)
    assert email.template == "task_assigned"
    assert ref in email.subject
    assert f"{CONSOLE}/?case={ref}" in email.text
    assert "Caracterizar" in email.text  # the task's label in the institution's locale (es)
    assert set(statuses(svc).values()) == {"sent"}
    assert dispatch(svc, sender, CONSOLE).claimed == 0  # nothing is sent twice


def test_no_email_in_any_template_or_language_carries_the_persons_data(svc, test_protocol):
    fake = Faker(["es_CO"])
    fake.seed_instance(7)
    person = {
        "given_name": f"Synth{fake.first_name()}",
        "family_name": f"Synth{fake.last_name()}",
        "document_number": f"SYN-{fake.numerify('#########')}",
    }
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO, person=person)
    sender = InMemoryEmailSender()
    for locale in LOCALES:
        with svc.uow() as uow:
            lead = uow.directory.institution("test-lead")
            SqlDirectory(uow.connection).upsert([replace(lead, locale=locale)])
            uow.commit()
        for template in TEMPLATES:
            queue(svc, ref, template, role="manager" if template == "task_escalated" else "lead")
        dispatch(svc, sender, CONSOLE, limit=1000)
    assert {e.locale for e in sender.sent} == set(LOCALES)
    assert {e.template for e in sender.sent} == set(TEMPLATES)
    for email in sender.sent:
        for value in person.values():
            for part in (email.subject, email.text, email.html, " ".join(email.to)):
                assert value not in part, (email.template, email.locale)


def test_retries_back_off_429_waits_for_the_reset_and_4xx_is_a_dead_letter(svc, test_protocol):
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    dispatch(svc, InMemoryEmailSender(), CONSOLE)  # the assignment
    rate, server, bad = queue(svc, ref, "task_reminder", 3)
    reset = svc.clock.now() + timedelta(seconds=90)
    sender = InMemoryEmailSender(
        [
            RetryLater("SendGrid 429", at=reset),
            RetryLater("SendGrid 503"),
            Permanent("SendGrid 400: bad address"),
        ]
    )
    report = dispatch(svc, sender, CONSOLE)
    assert (report.sent, report.retried, report.dead) == (0, 2, 1)
    with svc.uow() as uow:
        o = tables.outbox
        rows = {
            r.id: r
            for r in uow.connection.execute(
                select(o.c.id, o.c.status, o.c.attempts, o.c.next_attempt_at, o.c.last_error)
            )
        }
    assert rows[rate].next_attempt_at == reset
    assert rows[server].status == "pending"
    assert svc.clock.now() < rows[server].next_attempt_at <= svc.clock.now() + timedelta(seconds=60)
    assert (rows[bad].status, rows[bad].last_error) == ("dead", "SendGrid 400: bad address")
    assert dispatch(svc, sender, CONSOLE).claimed == 0  # not due yet
    svc.clock.advance(timedelta(seconds=91))
    report = dispatch(svc, sender, CONSOLE)
    assert (report.claimed, report.sent) == (2, 2)
    assert statuses(svc)[bad] == "dead"


def test_a_message_that_keeps_failing_ends_dead_lettered_with_the_reason(svc, test_protocol):
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    dispatch(svc, InMemoryEmailSender(), CONSOLE)
    (row,) = queue(svc, ref, "task_overdue")
    sender = InMemoryEmailSender(respond=lambda e: RetryLater("timed out"))
    for _ in range(MAX_ATTEMPTS + 2):
        dispatch(svc, sender, CONSOLE)
        svc.clock.advance(timedelta(hours=2))
    assert statuses(svc)[row] == "dead"
    assert len(sender.attempts) == MAX_ATTEMPTS


def test_an_institution_without_an_address_is_a_dead_letter_not_a_retry(svc, test_protocol):
    cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    with svc.uow() as uow:
        lead = uow.directory.institution("test-lead")
        SqlDirectory(uow.connection).upsert([replace(lead, emails=())])
        uow.commit()
    report = dispatch(svc, InMemoryEmailSender(), CONSOLE)
    assert report.dead == 1
    assert "has no email address" in report.errors[0]


def test_a_worker_that_died_mid_send_leaves_the_message_to_the_next_one(svc, test_protocol):
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    dispatch(svc, InMemoryEmailSender(), CONSOLE)
    (row,) = queue(svc, ref, "task_reminder")
    with svc.uow() as uow:  # claimed, then the worker vanished
        uow.outbox.claim(svc.clock.now(), 10, "dead-worker", timedelta(minutes=5))
        uow.commit()
    assert dispatch(svc, InMemoryEmailSender(), CONSOLE).claimed == 0  # lease still running
    svc.clock.advance(timedelta(minutes=6))
    sender = InMemoryEmailSender()
    assert dispatch(svc, sender, CONSOLE).sent == 1
    assert statuses(svc)[row] == "sent"


@pytest.mark.parametrize("workers", [2])
def test_two_dispatchers_drain_500_messages_each_sent_once(svc, test_protocol, engine, workers):
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    ids = queue(svc, ref, "task_reminder", 500)
    sender = InMemoryEmailSender()
    errors: list[BaseException] = []

    def drain() -> None:
        own = Services(lambda: SqlUnitOfWork(engine, VAULT), svc.clock, svc.catalog)
        try:
            while dispatch(own, sender, CONSOLE, limit=25).claimed:
                pass
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    sent = [e.outbox_id for e in sender.sent]
    assert len(sent) == len(set(sent))  # nobody sent twice
    assert set(ids) <= set(sent)  # nothing lost
    assert set(statuses(svc).values()) == {"sent"}


def test_through_sendgrid_every_message_ends_sent_once_or_dead_and_none_is_lost(svc, test_protocol):
    """The real SendGrid sender against a local fake API answering 202, 429, 500 and 400."""
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    dispatch(svc, InMemoryEmailSender(), CONSOLE)  # the assignment, out of the way
    ids = queue(svc, ref, "task_reminder", 4)
    reset = int((svc.clock.now() + timedelta(seconds=30)).timestamp())
    with FakeSendGrid() as api:
        api.replies.extend(
            [
                Reply(202, {"X-Message-Id": "sg-1"}),
                Reply(429, {"X-RateLimit-Reset": str(reset)}),
                Reply(500),
                Reply(400, body=b'{"errors":[{"message":"invalid email"}]}'),
            ]
        )
        sender = SendGridEmailSender("SG.fake", "ruta@example.org", api.url, timeout=2.0)
        for _ in range(6):  # keep dispatching as time passes until nothing is left to try
            dispatch(svc, sender, CONSOLE)
            svc.clock.advance(timedelta(minutes=2))
        accepted = [
            r.body["custom_args"]["outbox_id"]
            for r, reply_ok in zip(
                api.requests, [True, False, False, False, True, True], strict=True
            )
            if reply_ok
        ]
    final = statuses(svc)
    assert [final[i] for i in ids] == ["sent", "sent", "sent", "dead"]
    assert sorted(accepted) == sorted(str(i) for i in ids[:3])  # each accepted exactly once
    assert len(api.requests) == 6  # 4 first tries + the 429 and the 500 retried once each


# --- leases against a slow SendGrid (times scaled down: 0.5 s a message, a 2 s lease) ------

SLOW = 0.5  # seconds SendGrid takes per message


def slow_outbox(svc, test_protocol, count: int) -> tuple[list[int], Services]:
    """`count` due messages, and services on the real clock (leases run out in real time)."""
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    dispatch(svc, InMemoryEmailSender(), CONSOLE)  # the assignment, out of the way
    ids = queue(svc, ref, "task_reminder", count)
    return ids, Services(svc.uow, SystemClock(), svc.catalog)


def run_dispatchers(*runs) -> list[Any]:
    """Each run in its own thread; their reports, or the first error."""
    reports: list[Any] = [None] * len(runs)
    errors: list[BaseException] = []

    def go(n: int) -> None:
        try:
            reports[n] = runs[n]()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(n,)) for n in range(len(runs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return reports


def accepted(api: FakeSendGrid) -> list[int]:
    return [int(r.body["custom_args"]["outbox_id"]) for r in api.requests]


def test_two_slow_dispatchers_never_send_a_message_the_other_is_still_sending(svc, test_protocol):
    ids, real = slow_outbox(svc, test_protocol, 12)
    lease, max_send = timedelta(seconds=2), timedelta(seconds=SLOW)
    with FakeSendGrid() as api:
        api.replies.extend(Reply(202, delay=SLOW) for _ in ids)
        sender = SendGridEmailSender("SG.fake", "ruta@example.org", api.url, timeout=5.0)

        def drain() -> tuple[int, int, int]:
            sent = lost = claims = 0
            deadline = time.monotonic() + 30
            # until all are sent: on SQLite (no SKIP LOCKED) a claim racing another can come
            # back empty while messages are still pending
            while set(statuses(real).values()) != {"sent"} and time.monotonic() < deadline:
                report = dispatch(real, sender, CONSOLE, lease=lease, max_send=max_send)
                sent, lost, claims = sent + report.sent, lost + report.lost, claims + 1
            return sent, lost, claims

        (a_sent, _, _), (b_sent, _, _) = run_dispatchers(drain, drain)
        posted = accepted(api)
    assert sorted(posted) == sorted(ids)  # each message went to SendGrid once
    assert a_sent + b_sent == len(ids)  # the reported counts add up
    assert min(a_sent, b_sent) > 0  # both did work: claims of 4 (2 s / 0.5 s), not all to one
    # on a loaded machine a claim can outlive its lease: the rest of it is lost (skipped and
    # left to the next claim), never sent twice, which is what is asserted above
    assert {statuses(svc)[i] for i in ids} == {"sent"}


def test_a_claim_that_outlives_its_lease_skips_what_another_dispatcher_took(svc, test_protocol):
    """The first dispatcher claims all 12 with a 1 s lease (as if a send took 0.05 s); at
    0.5 s a send its lease runs out after two. The second takes the rest over; the first must
    not send any of them once it reaches them."""
    ids, real = slow_outbox(svc, test_protocol, 12)
    lease = timedelta(seconds=1)
    with FakeSendGrid() as api:
        api.replies.extend(Reply(202, delay=SLOW) for _ in ids)
        sender = SendGridEmailSender("SG.fake", "ruta@example.org", api.url, timeout=5.0)

        def greedy():
            return dispatch(real, sender, CONSOLE, lease=lease, max_send=timedelta(seconds=0.05))

        def latecomer():
            time.sleep(1.2)  # the greedy claim's lease has run out
            reports: list[DispatchReport] = []
            while not reports or reports[-1].claimed:
                reports.append(
                    dispatch(real, sender, CONSOLE, lease=lease, max_send=timedelta(seconds=SLOW))
                )
            return reports

        first, later = run_dispatchers(greedy, latecomer)
        posted = accepted(api)
    assert len(posted) == len(set(posted)) == len(ids)  # none sent twice, none lost
    assert first.claimed == len(ids)
    assert 0 < first.sent < len(ids)
    assert first.lost == len(ids) - first.sent  # skipped at its turn, and the run stopped
    assert first.sent + sum(r.sent for r in later) == len(ids)
    assert {statuses(svc)[i] for i in ids} == {"sent"}


def test_a_timeout_after_sendgrid_accepted_is_retried_and_counted_as_ambiguous(svc, test_protocol):
    """SendGrid has no idempotency key: the retry sends it again. The retry is counted, and
    both requests carry the outbox id, so delivery events reveal the duplicate."""
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    dispatch(svc, InMemoryEmailSender(), CONSOLE)
    (row,) = queue(svc, ref, "task_reminder")
    with FakeSendGrid() as api:
        api.replies.append(Reply(202, delay=5.0))  # accepted, but the answer comes too late
        sender = SendGridEmailSender("SG.fake", "ruta@example.org", api.url, timeout=0.3)
        first = dispatch(svc, sender, CONSOLE)
        svc.clock.advance(timedelta(minutes=5))
        second = dispatch(svc, sender, CONSOLE)
        posted = accepted(api)
    assert (first.retried, first.ambiguous, first.sent) == (1, 1, 0)
    assert (second.sent, second.ambiguous) == (1, 0)
    assert posted == [row, row]  # the duplicate, recognisable by its outbox id
    with svc.uow() as uow:
        o = tables.outbox
        status, ambiguous = uow.connection.execute(
            select(o.c.status, o.c.ambiguous_retries).where(o.c.id == row)
        ).one()
    assert (status, ambiguous) == ("sent", 1)


def test_a_refused_connection_is_retried_but_not_ambiguous(svc, test_protocol):
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    dispatch(svc, InMemoryEmailSender(), CONSOLE)
    queue(svc, ref, "task_reminder")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = SendGridEmailSender("SG.fake", "ruta@example.org", f"http://127.0.0.1:{port}")
    report = dispatch(svc, sender, CONSOLE)
    assert (report.retried, report.ambiguous) == (1, 0)


def test_ruta_dispatch_says_how_many_retries_are_ambiguous(
    bare_engine, tmp_path, monkeypatch, kept_engines
):
    """`ruta dispatch` through SendGrid; the first request's connection drops unanswered."""
    with FakeSendGrid() as api:
        env = {
            "RUTA_HOME": str(tmp_path / "home"),
            "RUTA_DATABASE_URL": bare_engine.url.render_as_string(hide_password=False),
            "RUTA_SECRET_KEY": TEST_KEY,
            "RUTA_SENDGRID_API_KEY": "SG.fake",
            "RUTA_SENDGRID_HOST": api.url,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        bootstrap.settings.cache_clear()
        assert CliRunner().invoke(app, ["init"]).exit_code == 0
        real = bootstrap.services()
        loaded = real.catalog.latest("CO", "trafficking")
        assert loaded is not None
        attrs = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
        cases.open_case(real, loaded, attrs, SYSTEM)
        api.replies.append(Reply(202, drop=True))
        result = CliRunner().invoke(app, ["dispatch"])
    assert result.exit_code == 0, result.output
    claimed = len(api.requests)
    assert claimed >= 2
    assert (
        f"Outbox: {claimed - 1} sent, 1 to retry (1 ambiguous: timed out after SendGrid may "
        f"have accepted them), 0 dead-lettered (of {claimed} claimed)"
    ) in result.output
