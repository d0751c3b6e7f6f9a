"""Render an outbox notification into an email: subject, plain text and HTML, per locale.

Pure: no I/O beyond reading the packaged templates. The context is a closed set of
non-personal keys (see ``CONTEXT_KEYS``); anything else is refused, so a person's name or
document number cannot reach an email by accident.

Templates live in ``notifications/templates/``:

- ``<template>.<locale>.txt`` holds two blocks, ``subject`` and ``body`` (the message in
  paragraphs separated by blank lines), and extends ``_base.<locale>.txt`` (greeting, case
  facts, link, footer).
- The HTML body is ``_base.<locale>.html`` rendered with the same context plus the
  paragraphs of the ``body`` block, so the text and HTML versions cannot drift apart.
  HTML is autoescaped; text is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.labels import reason_label

TEMPLATES = (
    "task_assigned",
    "task_reminder",
    "task_overdue",
    "task_escalated",
    "task_rejected",
    "task_cancelled",
    "task_failed",
    "handoff_requested",
    "consent_withdrawn",
)
LOCALES = ("es", "pt", "en")

# Babel locale per Ruta locale: Portuguese is Brazilian; Spanish uses the neutral CLDR
# formats (24-hour clock), as Latin American official documents usually do.
_BABEL_LOCALES = {"es": "es", "pt": "pt_BR", "en": "en"}

REQUIRED_KEYS = ("case_ref", "task_label", "institution_name", "link")
OPTIONAL_KEYS = ("due_at", "timezone", "level", "late_by", "reason", "country")
CONTEXT_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS

# Templates whose email states the due time (when a due_at is given).
_SHOWS_DUE = frozenset(
    {"task_assigned", "task_reminder", "task_overdue", "task_escalated", "handoff_requested"}
)

_TEMPLATE_DIR = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATE_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    auto_reload=False,
)


@dataclass(frozen=True, slots=True)
class Email:
    """One rendered message, ready for a sender. Carries no personal data."""

    outbox_id: int
    to: tuple[str, ...]
    locale: str
    template: str
    subject: str
    text: str
    html: str


def render(
    template: str,
    locale: str,
    context: Mapping[str, object],
    outbox_id: int,
    to: Sequence[str],
) -> Email:
    """Render ``template`` in ``locale`` for the outbox row ``outbox_id``.

    Raises:
        ValueError: unknown template or locale, a context key outside ``CONTEXT_KEYS``,
            a missing or ill-typed value, or a malformed recipient address.
    """
    if template not in TEMPLATES:
        raise ValueError(f"Unknown email template {template!r}; allowed: {', '.join(TEMPLATES)}.")
    if locale not in LOCALES:
        raise ValueError(f"Unknown email locale {locale!r}; allowed: {', '.join(LOCALES)}.")
    recipients = _recipients(to, outbox_id)
    values = _template_values(template, locale, context)

    tmpl = _env.get_template(f"{template}.{locale}.txt")
    subject = " ".join(_render_block(tmpl, "subject", values).split())
    body = _render_block(tmpl, "body", values)
    text = _tidy(tmpl.render(values))
    html = _env.get_template(f"_base.{locale}.html").render(
        values, subject=subject, paragraphs=_paragraphs(body)
    )
    if not subject:
        raise ValueError(f"Template {template}.{locale}.txt rendered an empty subject.")
    return Email(
        outbox_id=outbox_id,
        to=recipients,
        locale=locale,
        template=template,
        subject=subject,
        text=text,
        html=html.strip() + "\n",
    )


def format_due(due_at: datetime, timezone: str, locale: str) -> str:
    """``lunes, 2 de marzo de 2026, 14:00 (America/Bogota)``, in the locale's own order."""
    zone = _zone(timezone)
    babel_locale = Locale.parse(_BABEL_LOCALES[locale])
    local = due_at.astimezone(zone)
    date = format_date(local.date(), "full", locale=babel_locale)
    time = format_time(local, "short", tzinfo=zone, locale=babel_locale)
    glue = str(babel_locale.datetime_formats["full"]).replace("'", "")
    return f"{glue.replace('{1}', date).replace('{0}', time)} ({timezone})"


def _render_block(tmpl: Any, block: str, values: Mapping[str, object]) -> str:
    if block not in tmpl.blocks:
        raise ValueError(f"Template {tmpl.name} has no '{block}' block; it needs subject and body.")
    return "".join(tmpl.blocks[block](tmpl.new_context(dict(values))))


def _template_values(
    template: str, locale: str, context: Mapping[str, object]
) -> dict[str, object]:
    unknown = sorted(set(context) - set(CONTEXT_KEYS))
    if unknown:
        raise ValueError(
            f"Email context has keys outside the allowed set: {', '.join(unknown)}; "
            f"allowed: {', '.join(CONTEXT_KEYS)} (emails never carry personal data)."
        )
    missing = [key for key in REQUIRED_KEYS if not context.get(key)]
    if missing:
        raise ValueError(f"Email context is missing {', '.join(missing)}.")
    case_ref = _text(context, "case_ref")
    link = _text(context, "link")
    if not link.startswith(("http://", "https://")):
        raise ValueError(f"Email link for case {case_ref} must be an http(s) URL.")

    due_at = context.get("due_at")
    timezone = context.get("timezone")
    due: str | None = None
    if due_at is not None and template in _SHOWS_DUE:
        if not isinstance(due_at, datetime) or due_at.tzinfo is None:
            raise ValueError(f"Email due_at for case {case_ref} must be an aware datetime.")
        if not isinstance(timezone, str) or not timezone:
            raise ValueError(f"Email context for case {case_ref} has due_at but no timezone.")
        due = format_due(due_at, timezone, locale)

    level = context.get("level")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int)):
        raise ValueError(f"Email level for case {case_ref} must be an int or None.")
    reason = _optional_text(context, "reason")
    country = _optional_text(context, "country")
    return {
        "case_ref": case_ref,
        "task_label": _text(context, "task_label"),
        "institution_name": _text(context, "institution_name"),
        "link": link,
        "due": due,
        "level": level,
        "late_by": _optional_text(context, "late_by"),
        "reason": reason,
        "reason_label": reason_label(reason, locale) if reason else None,
        "country": country,
        "country_name": _country_name(country, locale) if country else None,
    }


def _text(context: Mapping[str, object], key: str) -> str:
    value = context[key]
    if not isinstance(value, str):
        raise ValueError(f"Email context {key} must be a string, not {type(value).__name__}.")
    return value


def _optional_text(context: Mapping[str, object], key: str) -> str | None:
    value = context.get(key)
    if value is None or value == "":
        return None
    return _text(context, key)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"Unknown timezone {timezone!r}; use an IANA name such as America/Bogota."
        ) from exc


def _country_name(code: str, locale: str) -> str:
    names = Locale.parse(_BABEL_LOCALES[locale]).territories
    return str(names.get(code.upper(), code))


def _recipients(to: Sequence[str], outbox_id: int) -> tuple[str, ...]:
    if isinstance(to, str):
        to = (to,)
    recipients = tuple(to)
    if not recipients:
        raise ValueError(f"Outbox message {outbox_id} has no recipient.")
    for address in recipients:
        if "@" not in address or any(ch in address for ch in "\r\n,"):
            raise ValueError(
                f"Outbox message {outbox_id} has a malformed recipient address; "
                "give one address per item, like coat@co.example.org."
            )
    return tuple(dict.fromkeys(recipients))  # SendGrid refuses a repeated address


_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)) + "\n"


def _paragraphs(body: str) -> list[str]:
    blocks = re.split(r"\n\s*\n", body.strip())
    return [" ".join(block.split()) for block in blocks if block.strip()]
