"""SendGrid adapter: the only module that imports ``sendgrid`` and ``python_http_client``.

Library errors are translated here into ``Sent`` / ``RetryLater`` / ``Permanent``:

- 200 (sandbox mode) and 202 -> ``Sent(X-Message-Id)``;
- 429 -> ``RetryLater(at=X-RateLimit-Reset)``, or one minute later without a usable header;
- 5xx, timeouts, refused or reset connections -> ``RetryLater(at=None)`` (the caller backs off);
  ``ambiguous=True`` when the request had gone out whole (a timeout or a dropped connection
  while waiting for the answer): SendGrid may have accepted it;
- any other 4xx -> ``Permanent("SendGrid <status>: <short reason>")``.

SendGrid has no idempotency key: a request that times out after SendGrid accepted it is
sent again on retry, which the dispatcher counts as an ambiguous retry. ``outbox_id``
travels in ``custom_args`` so duplicates and webhook events can be matched to the outbox row.

Logs carry the outbox id and the status only, never recipients or bodies.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
from datetime import UTC, datetime, timedelta
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Category,
    CustomArg,
    Mail,
    MailSettings,
    SandBoxMode,
)

from notifications.messages import Email
from notifications.senders import Permanent, RetryLater, SendResult, Sent

_log = logging.getLogger(__name__)

# python-http-client logs every request payload (recipients, bodies) and the headers
# (the API key) at DEBUG. Keep that out of any log, whatever the root level.
logging.getLogger("python_http_client").setLevel(logging.INFO)
logging.getLogger("python_http_client.client").setLevel(logging.INFO)

_RATE_LIMIT_FALLBACK = timedelta(seconds=60)
_REASON_CHARS = 200


class SendGridEmailSender:
    """Sends through the SendGrid v3 mail/send API.

    Args:
        api_key: the SendGrid API key (``RUTA_SENDGRID_API_KEY``).
        from_address: the verified sender, ``ruta@co.example.org`` or ``Ruta <ruta@...>``.
        host: ``https://api.sendgrid.com``, ``https://api.eu.sendgrid.com`` for EU data
            residency, or a local fake server in tests.
        sandbox: SendGrid validates the request and answers 200 without delivering.
        timeout: seconds per socket operation (connect, each read), so a hung server
            cannot hang the dispatcher.
    """

    def __init__(
        self,
        api_key: str,
        from_address: str,
        host: str = "https://api.sendgrid.com",
        sandbox: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if not api_key:
            raise ValueError("SendGrid API key is empty; set RUTA_SENDGRID_API_KEY.")
        if not from_address:
            raise ValueError("SendGrid sender needs a from address; set RUTA_EMAIL_FROM.")
        if timeout <= 0:
            raise ValueError(f"SendGrid timeout must be positive seconds, got {timeout}.")
        self.from_address = from_address
        self.host = host.rstrip("/")
        self.sandbox = sandbox
        self.timeout = timeout
        self._api = SendGridAPIClient(api_key=api_key, host=self.host)
        # BaseInterface.send() passes no timeout; the client hands this one to urlopen for
        # every request it builds. We also pass it per call in send() below.
        self._api.client.timeout = timeout

    def send(self, email: Email, now: datetime) -> SendResult:
        try:
            body = self._payload(email)
        except Exception as exc:  # the helpers raise their own ad-hoc exceptions
            _log.error("outbox_id=%s SendGrid payload refused: %s", email.outbox_id, _name(exc))
            return Permanent(f"SendGrid payload could not be built: {type(exc).__name__}")
        try:
            response = self._api.client.mail.send.post(request_body=body, timeout=self.timeout)
        except HTTPError as exc:
            return self._failed(email, int(exc.status_code), exc.headers, exc.body, now)
        except urllib.error.URLError as exc:
            # urllib wraps what fails while connecting or sending: SendGrid never had it all
            _log.warning("outbox_id=%s SendGrid unreachable: %s", email.outbox_id, _name(exc))
            return RetryLater(f"SendGrid unreachable: {_name(exc)}")
        except (OSError, http.client.HTTPException) as exc:
            # TimeoutError, ConnectionReset, RemoteDisconnected while waiting for the answer:
            # the request went out whole and SendGrid may have accepted it
            _log.warning("outbox_id=%s SendGrid no answer: %s", email.outbox_id, _name(exc))
            return RetryLater(
                f"SendGrid gave no answer ({_name(exc)}); it may have accepted the message",
                ambiguous=True,
            )
        status = int(response.status_code)
        if 200 <= status < 300:
            message_id = _header(response.headers, "X-Message-Id")
            _log.info("outbox_id=%s SendGrid status=%s", email.outbox_id, status)
            return Sent(provider_id=message_id)
        return self._failed(email, status, response.headers, response.body, now)

    def _payload(self, email: Email) -> dict[str, Any]:
        mail = Mail(
            from_email=self.from_address,
            to_emails=list(email.to),
            subject=email.subject,
            plain_text_content=email.text,
            html_content=email.html,
        )
        mail.custom_arg = CustomArg("outbox_id", str(email.outbox_id))
        mail.category = [Category("ruta"), Category(email.template)]
        if self.sandbox:
            settings = MailSettings()
            settings.sandbox_mode = SandBoxMode(True)
            mail.mail_settings = settings
        payload: dict[str, Any] = mail.get()
        return payload

    def _failed(
        self, email: Email, status: int, headers: Any, body: object, now: datetime
    ) -> SendResult:
        _log.warning("outbox_id=%s SendGrid status=%s", email.outbox_id, status)
        if status == 429:
            at = _rate_limit_reset(_header(headers, "X-RateLimit-Reset"), now)
            return RetryLater("SendGrid 429: rate limited", at=at)
        if status >= 500:
            return RetryLater(f"SendGrid {status}: {_short(body)}")
        return Permanent(f"SendGrid {status}: {_short(body)}")


def _rate_limit_reset(value: str | None, now: datetime) -> datetime:
    """The reset instant (epoch seconds); a minute from now if absent, garbled or past."""
    if value:
        try:
            at = datetime.fromtimestamp(float(value), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
        else:
            if at > now:
                return at
    return now + _RATE_LIMIT_FALLBACK


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    return None if value is None else str(value)


def _short(body: object) -> str:
    """SendGrid's error messages (``{"errors": [{"message": ...}]}``), trimmed."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    text = str(body or "").strip()
    try:
        errors = json.loads(text)["errors"]
        text = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict))
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    text = " ".join(text.split()) or "no details"
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


def _name(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # URLError wraps the socket error
    if isinstance(reason, BaseException):
        return f"{type(exc).__name__} ({type(reason).__name__})"
    return type(exc).__name__
