"""The EmailSender port, its results, the file sender (embedded default) and an in-memory fake."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol

from notifications.messages import Email

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """Accepted by the provider; ``provider_id`` correlates later events (None if not given)."""

    provider_id: str | None


@dataclass(frozen=True)
class RetryLater:
    """A transient failure: try again at ``at``, or after the caller's own backoff if None.

    ``ambiguous``: the request went out whole and no answer came back (a timeout, a dropped
    connection), so the provider may have accepted it; a retry may then send a duplicate.
    """

    reason: str
    at: datetime | None = None
    ambiguous: bool = False


@dataclass(frozen=True)
class Permanent:
    """The provider refused the message for good; retrying cannot help (dead-letter it)."""

    reason: str


SendResult = Sent | RetryLater | Permanent


class EmailSender(Protocol):
    """Delivers one rendered email. Never raises for delivery problems: returns a result."""

    def send(self, email: Email, now: datetime) -> SendResult: ...


class FileEmailSender:
    """Writes each message to ``<directory>/<outbox_id>.eml`` (the embedded default).

    The write is atomic (a hidden temp file, then ``os.replace``), so a reader never sees a
    half-written message, and sending the same outbox id again overwrites the same file.
    """

    def __init__(self, directory: Path, from_address: str) -> None:
        self.directory = Path(directory)
        self.from_address = from_address
        domain = parseaddr(from_address)[1].rpartition("@")[2]
        self._message_id_domain = domain or "ruta.invalid"

    def send(self, email: Email, now: datetime) -> SendResult:
        if now.tzinfo is None:
            raise ValueError("FileEmailSender.send needs an aware 'now' (UTC from the Clock).")
        name = f"{email.outbox_id}.eml"
        data = self._message(email, now).as_bytes()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.directory / name, data)
        except OSError as exc:
            _log.warning("outbox_id=%s file sender failed: %s", email.outbox_id, exc.strerror)
            return RetryLater(f"cannot write {name} under {self.directory}: {exc.strerror}")
        _log.info("outbox_id=%s written to %s", email.outbox_id, name)
        return Sent(provider_id=name)

    def _message(self, email: Email, now: datetime) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.from_address
        msg["To"] = ", ".join(email.to)
        msg["Subject"] = email.subject
        msg["Date"] = format_datetime(now)
        # Stable per outbox row, so a re-sent message is recognisably the same one.
        msg["Message-ID"] = f"<ruta-outbox-{email.outbox_id}@{self._message_id_domain}>"
        msg["Content-Language"] = email.locale
        msg["X-Ruta-Outbox-Id"] = str(email.outbox_id)
        msg["X-Ruta-Template"] = email.template
        msg.set_content(email.text)
        msg.add_alternative(email.html, subtype="html")
        return msg


def _write_atomically(path: Path, data: bytes) -> None:
    # The temp name starts with a dot and does not end in .eml, so watchers of *.eml
    # only ever see complete files.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class InMemoryEmailSender:
    """A fake for tests. ``sent`` holds the emails accepted, ``attempts`` every call.

    Results come, in order, from ``results`` (and ``script(...)``); when none are queued,
    ``respond(email)`` decides if given, otherwise the email is accepted. Thread-safe, so
    two dispatchers can share one fake.
    """

    def __init__(
        self,
        results: Iterable[SendResult] = (),
        *,
        respond: Callable[[Email], SendResult] | None = None,
    ) -> None:
        self.sent: list[Email] = []
        self.attempts: list[Email] = []
        self._queue: deque[SendResult] = deque(results)
        self._respond = respond
        self._lock = threading.Lock()

    def script(self, *results: SendResult) -> None:
        """Queue results for the next calls to ``send``."""
        with self._lock:
            self._queue.extend(results)

    def send(self, email: Email, now: datetime) -> SendResult:
        with self._lock:
            self.attempts.append(email)
            if self._queue:
                result = self._queue.popleft()
            elif self._respond is not None:
                result = self._respond(email)
            else:
                result = Sent(provider_id=f"memory-{email.outbox_id}")
            if isinstance(result, Sent):
                self.sent.append(email)
            return result
