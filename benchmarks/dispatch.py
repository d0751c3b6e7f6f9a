"""Messages per second through the SendGrid sender against a local fake server.

The outbox is filled the real way: cases opened through the services write their task-assigned
messages. Then the real dispatcher drains it as the outbox-dispatch flow does
(`workflows.services.dispatch.dispatch`, 200 a run in claims of 30: claim, check and extend the
lease, compose in the recipient's language, send, mark sent), with `SendGridEmailSender`
posting to benchmarks/fake_sendgrid.py in another process. Two more figures place it: the
sender alone (the same emails composed beforehand, only `send`) and a bare HTTP POST of the
same JSON with urllib (the transport's floor: the SendGrid client also opens a connection per
request).
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from benchmarks.common import Backend, Figure, seed, services
from benchmarks.datasets import fresh
from benchmarks.fake_sendgrid import FakeServer
from notifications.messages import Email
from notifications.sendgrid_sender import SendGridEmailSender
from protocols.registry import Registry
from workflows.domain.access import Actor
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.services.dispatch import compose, dispatch
from workflows.store import tables

CONSOLE = "https://ruta.example.org"
ATTRS = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
BENCH = Actor.system("bench")
SENDER_ONLY = 200


def _fill(svc: Services, engine: Engine, registry: Registry, messages: int) -> int:
    co = registry.latest_published("CO-TRATA")
    o = tables.outbox
    while True:
        with engine.connect() as conn:
            pending = conn.execute(select(func.count()).select_from(o)).scalar_one()
        if pending >= messages:
            return int(pending)
        for _ in range(min(50, messages)):
            cases.open_case(svc, co, ATTRS, BENCH)


def _sender(url: str) -> SendGridEmailSender:
    return SendGridEmailSender("SG.benchmark-key", "Ruta <ruta@co.example.org>", host=url)


def run(backend: Backend, registry: Registry, scratch: Path, messages: int = 1000) -> list[Figure]:
    engine = fresh(backend, "bench_dispatch", scratch)
    try:
        seed(engine)
        svc = services(engine, registry)
        total = _fill(svc, engine, registry, messages)
        with FakeServer() as url:
            sender = _sender(url)
            # the sender alone, on emails composed beforehand
            with svc.uow() as uow:
                rows = uow.outbox.claim(svc.clock.now(), SENDER_ONLY, "bench", timedelta(0))
                uow.rollback()  # leave them pending for the real run
                emails = [e for r in rows if isinstance(e := compose(uow, r, CONSOLE), Email)]
            now = svc.clock.now()
            start = time.perf_counter()
            for email in emails:
                sender.send(email, now)
            alone = len(emails) / (time.perf_counter() - start)
            payload = json.dumps(sender._payload(emails[0])).encode()
            start = time.perf_counter()
            for _ in emails:
                _post(url, payload)
            bare = len(emails) / (time.perf_counter() - start)
            # the dispatcher, draining the outbox as the flow does
            sent = dead = retried = ambiguous = 0
            start = time.perf_counter()
            while True:
                report = dispatch(svc, sender, CONSOLE, limit=200)
                sent, dead, retried, ambiguous = (
                    sent + report.sent,
                    dead + report.dead,
                    retried + report.retried,
                    ambiguous + report.ambiguous,
                )
                if report.claimed < 200:
                    break
            elapsed = time.perf_counter() - start
    finally:
        engine.dispose()
        backend.drop("bench_dispatch")
    name = "messages/s"
    return [
        Figure("dispatch", backend.name, f"dispatch: claim, compose, send, mark ({name})",
               sent / elapsed, "msg/s", size=total,
               extra={"sent": sent, "dead": dead, "retried": retried, "ambiguous": ambiguous,
                      "seconds": round(elapsed, 2)}),
        Figure("dispatch", backend.name, f"SendGrid sender alone ({name})", alone, "msg/s",
               size=len(emails)),
        Figure("dispatch", backend.name, f"bare urllib POST, same JSON ({name})", bare,
               "msg/s", size=len(emails)),
    ]  # fmt: skip


def _post(url: str, payload: bytes) -> None:
    request = urllib.request.Request(
        f"{url}/v3/mail/send",
        data=payload,
        headers={"Content-Type": "application/json", "Authorization": "Bearer SG.benchmark"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
