"""SendGridEmailSender against a local fake SendGrid (stdlib http.server on 127.0.0.1)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from notifications.messages import Email, render
from notifications.senders import Permanent, RetryLater, Sent
from notifications.sendgrid_sender import SendGridEmailSender
from tests.fakes import FakeSendGrid, Reply

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
API_KEY = "SG.fake-test-key"


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


def sender_for(
    fake: FakeSendGrid, *, sandbox: bool = False, timeout: float = 2.0
) -> SendGridEmailSender:
    return SendGridEmailSender(
        API_KEY, "Ruta <ruta@co.example.org>", fake.url, sandbox=sandbox, timeout=timeout
    )


def an_email(outbox_id: int = 17) -> Email:
    context = {
        "case_ref": "CO-2026-000123",
        "task_label": "Acogida temporal",
        "institution_name": "Centro de Acogida de Ipiales",
        "due_at": NOW + timedelta(days=1),
        "timezone": "America/Bogota",
        "link": "http://127.0.0.1:8501/?case=CO-2026-000123",
    }
    return render(
        "task_assigned", "es", context, outbox_id, ["coat@co.example.org", "ipiales@co.example.org"]
    )


def test_accepted_message_returns_the_message_id_and_posts_the_full_request(
    fake: FakeSendGrid,
) -> None:
    fake.replies.append(Reply(202, {"X-Message-Id": "sg-msg-1"}))
    mail = an_email()

    result = sender_for(fake).send(mail, NOW)

    assert result == Sent(provider_id="sg-msg-1")
    [request] = fake.requests
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = request.body
    assert body["custom_args"] == {"outbox_id": "17"}
    assert set(body["categories"]) == {"ruta", "task_assigned"}
    assert body["from"] == {"name": "Ruta", "email": "ruta@co.example.org"}
    assert body["personalizations"] == [
        {"to": [{"email": "coat@co.example.org"}, {"email": "ipiales@co.example.org"}]}
    ]
    assert body["subject"] == mail.subject
    assert body["content"] == [
        {"type": "text/plain", "value": mail.text},
        {"type": "text/html", "value": mail.html},
    ]
    assert "mail_settings" not in body


def test_sandbox_mode_is_flagged_in_the_body_and_200_counts_as_sent(fake: FakeSendGrid) -> None:
    fake.replies.append(Reply(200))

    result = sender_for(fake, sandbox=True).send(an_email(), NOW)

    assert result == Sent(provider_id=None)
    assert fake.requests[0].body["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_rate_limited_message_waits_until_the_reset_header(fake: FakeSendGrid) -> None:
    reset = int((NOW + timedelta(seconds=90)).timestamp())
    fake.replies.append(Reply(429, {"X-RateLimit-Reset": str(reset)}, b'{"errors": []}'))

    result = sender_for(fake).send(an_email(), NOW)

    assert result == RetryLater("SendGrid 429: rate limited", at=NOW + timedelta(seconds=90))


def test_rate_limited_message_without_a_reset_header_waits_a_minute(fake: FakeSendGrid) -> None:
    fake.replies.append(Reply(429))

    result = sender_for(fake).send(an_email(), NOW)

    assert isinstance(result, RetryLater)
    assert result.at == NOW + timedelta(seconds=60)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_retry_with_the_callers_backoff(fake: FakeSendGrid, status: int) -> None:
    fake.replies.append(Reply(status, body=b"upstream trouble"))

    result = sender_for(fake).send(an_email(), NOW)

    assert result == RetryLater(f"SendGrid {status}: upstream trouble", at=None)


def test_bad_request_is_permanent_and_says_why(fake: FakeSendGrid) -> None:
    errors = {"errors": [{"message": "The from address does not match a verified Sender."}]}
    fake.replies.append(Reply(400, body=json.dumps(errors).encode()))

    result = sender_for(fake).send(an_email(), NOW)

    assert result == Permanent("SendGrid 400: The from address does not match a verified Sender.")


@pytest.mark.parametrize("status", [401, 403, 413])
def test_other_client_errors_are_permanent(fake: FakeSendGrid, status: int) -> None:
    fake.replies.append(Reply(status))

    result = sender_for(fake).send(an_email(), NOW)

    assert isinstance(result, Permanent)
    assert result.reason.startswith(f"SendGrid {status}:")


def test_a_hung_server_times_out_into_an_ambiguous_retry_later(fake: FakeSendGrid) -> None:
    """The whole request reached the server: it may have accepted it, so a retry is ambiguous;
    the outbox id it carries lets delivery events reveal the duplicate."""
    fake.replies.append(Reply(202, delay=30.0))
    started = time.monotonic()

    result = sender_for(fake, timeout=0.3).send(an_email(outbox_id=41), NOW)

    assert isinstance(result, RetryLater)
    assert result.at is None
    assert result.ambiguous
    assert "may have accepted" in result.reason
    assert time.monotonic() - started < 5
    [request] = fake.requests
    assert request.body["custom_args"] == {"outbox_id": "41"}


def test_a_connection_dropped_after_the_request_is_an_ambiguous_retry(
    fake: FakeSendGrid,
) -> None:
    fake.replies.append(Reply(202, drop=True))

    result = sender_for(fake).send(an_email(outbox_id=42), NOW)

    assert isinstance(result, RetryLater)
    assert result.ambiguous
    [request] = fake.requests
    assert request.body["custom_args"] == {"outbox_id": "42"}


def test_a_refused_connection_is_retried_later() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = SendGridEmailSender(API_KEY, "ruta@co.example.org", f"http://127.0.0.1:{port}")

    result = sender.send(an_email(), NOW)

    assert isinstance(result, RetryLater)
    assert result.at is None
    assert not result.ambiguous  # nothing reached SendGrid: a retry cannot duplicate
    assert "unreachable" in result.reason


def test_each_message_ends_sent_once_or_dead_lettered(fake: FakeSendGrid) -> None:
    """A tiny dispatcher loop over the scripted statuses: nothing is lost or sent twice."""
    fake.replies.extend(
        [
            Reply(202, {"X-Message-Id": "m1"}),
            Reply(429, {"X-RateLimit-Reset": str(int(NOW.timestamp()) + 5)}),
            Reply(500),
            Reply(400, body=b'{"errors": [{"message": "bad"}]}'),
            Reply(202, {"X-Message-Id": "m2"}),
            Reply(202, {"X-Message-Id": "m3"}),
        ]
    )
    sender = sender_for(fake)
    pending = [an_email(n) for n in (1, 2, 3, 4)]
    sent: dict[int, str | None] = {}
    dead: dict[int, str] = {}

    for _ in range(5):
        retry = []
        for mail in pending:
            result = sender.send(mail, NOW)
            if isinstance(result, Sent):
                sent[mail.outbox_id] = result.provider_id
            elif isinstance(result, Permanent):
                dead[mail.outbox_id] = result.reason
            else:
                retry.append(mail)
        pending = retry

    assert pending == []
    assert sent == {1: "m1", 2: "m2", 3: "m3"}
    assert dead == {4: "SendGrid 400: bad"}
    outbox_ids = [r.body["custom_args"]["outbox_id"] for r in fake.requests]
    assert sorted(outbox_ids) == ["1", "2", "2", "3", "3", "4"]


def test_empty_api_key_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="RUTA_SENDGRID_API_KEY"):
        SendGridEmailSender("", "ruta@co.example.org")
