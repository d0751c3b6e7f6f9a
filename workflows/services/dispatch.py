"""Deliver the outbox: render each claimed message for its recipients and send it.

A message is sent at least once, and once as a rule; it ends sent or dead-lettered with the
reason. Two things keep a second dispatcher off a message the first is still sending:

- a claim takes only what fits its lease: `CLAIM = LEASE / MAX_SEND` messages (5 min / 10 s
  = 30), MAX_SEND being the longest one send may take (SendGrid's timeout is 10 s);
- before each send the lease is checked and extended in one UPDATE (`Outbox.renew`): only
  while this dispatcher still holds the message and its lease has not run out. Once lost, the
  message is skipped and the run stops; the rest of its claim ran out with it and another
  dispatcher sends them.

A duplicate is still possible after a timeout on a message SendGrid had accepted (it has no
idempotency key): such a retry is counted as ambiguous, on the row (`ambiguous_retries`) and
in the report, and the `outbox_id` in SendGrid's `custom_args` lets delivery events reveal
the duplicate. 429 waits until the rate-limit reset, 5xx and timeouts back off exponentially
with jitter, other 4xx are permanent. Emails carry the case reference, the task's label and
due time and a console link, never personal data.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from institutions.directory import Directory
from notifications.messages import Email, render
from notifications.retry import backoff
from notifications.senders import EmailSender, RetryLater, Sent
from workflows.domain.ports import OutboxRow, Services, UnitOfWork

MAX_ATTEMPTS = 10
LEASE = timedelta(minutes=5)
MAX_SEND = timedelta(seconds=10)  # the longest one send may take (SendGrid's timeout)
CLAIM = LEASE // MAX_SEND  # messages per claim: all of them fit in the lease (30)


@dataclass(slots=True)
class DispatchReport:
    claimed: int = 0
    sent: int = 0  # accepted by the provider in this run
    retried: int = 0
    ambiguous: int = 0  # of the retried: after a timeout the provider may have accepted
    dead: int = 0
    lost: int = 0  # claimed, but the lease ran out before their turn: left to another run
    errors: list[str] = field(default_factory=list)  # outbox id and reason, no content


def dispatch(
    svc: Services,
    sender: EmailSender,
    console_url: str,
    limit: int = 100,
    rng: random.Random | None = None,
    lease: timedelta = LEASE,
    max_send: timedelta = MAX_SEND,
) -> DispatchReport:
    """Claim up to `limit` due messages, `lease / max_send` at a time, and try to send each
    once; return what happened."""
    report = DispatchReport()
    size = max(1, lease // max_send)
    while report.claimed < limit:
        token = uuid.uuid4().hex
        wanted = min(size, limit - report.claimed)
        with svc.uow() as uow:
            rows = uow.outbox.claim(svc.clock.now(), wanted, token, lease)
            uow.commit()
        report.claimed += len(rows)
        for n, row in enumerate(rows):
            if not _deliver(svc, sender, console_url, row, token, lease, report, rng):
                report.lost += len(rows) - n
                return report
        if len(rows) < wanted:
            return report
    return report


def _deliver(
    svc: Services,
    sender: EmailSender,
    console_url: str,
    row: OutboxRow,
    token: str,
    lease: timedelta,
    report: DispatchReport,
    rng: random.Random | None,
) -> bool:
    """Send one claimed message and record the outcome; False when the lease was lost."""
    with svc.uow() as uow:
        now = svc.clock.now()
        if not uow.outbox.renew(row.id, token, now, lease):
            return False  # another dispatcher may be sending it now
        email = compose(uow, row, console_url)
        if isinstance(email, str):  # nobody to send it to: no retry can fix that
            uow.outbox.dead(row.id, token, row.attempts + 1, email)
            report.dead += 1
            report.errors.append(f"outbox {row.id}: {email}")
        uow.commit()
    if isinstance(email, str):
        return True
    result = sender.send(email, now)  # outside any transaction: a slow API holds no lock
    with svc.uow() as uow:
        attempts = row.attempts + 1
        if isinstance(result, Sent):
            report.sent += 1
            if not uow.outbox.sent(row.id, token, now, result.provider_id):
                report.errors.append(
                    f"outbox {row.id}: sent, but the send outlasted its lease; another "
                    "dispatcher may send it again"
                )
        elif isinstance(result, RetryLater) and attempts < MAX_ATTEMPTS:
            at = result.at or backoff(attempts, now, rng=rng)
            ambiguous = row.ambiguous_retries + 1 if result.ambiguous else None
            uow.outbox.retry(row.id, token, attempts, at, result.reason, ambiguous)
            report.retried += 1
            report.ambiguous += result.ambiguous
        else:  # Permanent, or RetryLater with no attempt left
            reason = result.reason
            if isinstance(result, RetryLater):
                reason = f"gave up after {attempts} attempts: {reason}"
            uow.outbox.dead(row.id, token, attempts, reason)
            report.dead += 1
            report.errors.append(f"outbox {row.id}: {reason}")
        uow.commit()
    return True


def compose(uow: UnitOfWork, row: OutboxRow, console_url: str) -> Email | str:
    """The email for one outbox row, or why there is none (a reason, for the dead letter)."""
    directory: Directory = uow.directory
    institution = directory.institution(row.institution)
    if institution is None:
        return f"institution {row.institution} is not in the directory"
    to = list(institution.emails)
    if row.role == "manager":
        to += sorted(u.email for u in directory.managers(row.country) if u.email)
    if not to:
        return f"institution {row.institution} has no email address in the directory"
    loaded = uow.protocols.pinned(row.protocol_hash)
    locale = institution.locale
    task = uow.cases.task_notice(row.task_id) if row.task_id is not None else None
    label = ""
    if row.task_key is not None:
        try:
            label = loaded.protocol.task_spec(row.task_key)[2].label.get(locale)
        except KeyError:
            label = row.task_key
    link = f"{console_url.rstrip('/')}/?case={row.case_ref}"
    context: dict[str, object] = {
        "case_ref": row.case_ref,
        "task_label": label,
        "institution_name": institution.name,
        "due_at": task.due_at if task else None,
        "timezone": loaded.protocol.timezone,
        "link": link,
        "level": row.level,
        "late_by": None,
        "reason": task.reason if task else None,
        "country": (task.handoff or {}).get("country") if task else None,
    }
    return render(row.template, locale, context, outbox_id=row.id, to=dedupe(to))


def dedupe(addresses: list[str]) -> list[str]:
    seen: list[str] = []
    for a in addresses:
        if a.lower() not in (s.lower() for s in seen):
            seen.append(a)
    return seen
