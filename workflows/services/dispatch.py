"""Deliver the outbox: render each claimed message for its recipients and send it.

Every message ends sent exactly once (a file sender overwrites the same file; SendGrid gets
the `outbox_id` in `custom_args` to deduplicate an ambiguous retry) or dead-lettered with the
reason. 429 waits until the rate-limit reset, 5xx and timeouts back off exponentially with
jitter, other 4xx are permanent. Emails carry the case reference, the task's label and due
time and a console link, never personal data.
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


@dataclass(slots=True)
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)  # outbox id and reason, no content


def dispatch(
    svc: Services,
    sender: EmailSender,
    console_url: str,
    limit: int = 100,
    rng: random.Random | None = None,
) -> DispatchReport:
    """Claim up to `limit` due messages and try to send each once; return what happened."""
    report = DispatchReport()
    token = uuid.uuid4().hex
    with svc.uow() as uow:
        rows = uow.outbox.claim(svc.clock.now(), limit, token, LEASE)
        uow.commit()
    report.claimed = len(rows)
    for row in rows:
        with svc.uow() as uow:
            email = compose(uow, row, console_url)
            now = svc.clock.now()
            if isinstance(email, str):  # nobody to send it to: no retry can fix that
                uow.outbox.dead(row.id, token, row.attempts + 1, email)
                report.dead += 1
                report.errors.append(f"outbox {row.id}: {email}")
                uow.commit()
                continue
        result = sender.send(email, now)  # outside any transaction: a slow API holds no lock
        with svc.uow() as uow:
            attempts = row.attempts + 1
            if isinstance(result, Sent):
                uow.outbox.sent(row.id, token, now, result.provider_id)
                report.sent += 1
            elif isinstance(result, RetryLater) and attempts < MAX_ATTEMPTS:
                at = result.at or backoff(attempts, now, rng=rng)
                uow.outbox.retry(row.id, token, attempts, at, result.reason)
                report.retried += 1
            else:  # Permanent, or RetryLater with no attempt left
                reason = result.reason
                if isinstance(result, RetryLater):
                    reason = f"gave up after {attempts} attempts: {reason}"
                uow.outbox.dead(row.id, token, attempts, reason)
                report.dead += 1
                report.errors.append(f"outbox {row.id}: {reason}")
            uow.commit()
    return report


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
