"""notifications/: templates in every locale, the file sender, the fake sender and backoff."""

from __future__ import annotations

import email.policy
import random
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from notifications.labels import CATALOGUES, REASON_CODES, reason_label, reason_message_id
from notifications.messages import LOCALES, TEMPLATES, Email, format_due, render
from notifications.retry import backoff
from notifications.senders import (
    FileEmailSender,
    InMemoryEmailSender,
    Permanent,
    RetryLater,
    Sent,
)

CASE = "CO-2026-000123"
LINK = f"http://127.0.0.1:8501/?case={CASE}"
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
TEMPLATE_DIR = Path(__file__).parents[2] / "notifications" / "templates"


def full_context(**overrides: object) -> dict[str, object]:
    context: dict[str, object] = {
        "case_ref": CASE,
        "task_label": "Acogida temporal",
        "institution_name": "Centro de Acogida de Ipiales",
        "due_at": datetime(2026, 3, 2, 19, 0, tzinfo=UTC),
        "timezone": "America/Bogota",
        "link": LINK,
        "level": 2,
        "late_by": "3 h",
        "reason": "no_capacity",
        "country": "EC",
    }
    context.update(overrides)
    return context


def rendered(template: str = "task_assigned", locale: str = "es", **overrides: object) -> Email:
    return render(template, locale, full_context(**overrides), 41, ["coat@co.example.org"])


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_in_every_locale(template: str, locale: str) -> None:
    mail = rendered(template, locale)

    assert (mail.template, mail.locale, mail.outbox_id) == (template, locale, 41)
    assert mail.to == ("coat@co.example.org",)
    assert mail.subject
    assert "\n" not in mail.subject
    assert CASE in mail.subject
    for body in (mail.text, mail.html):
        assert CASE in body
        assert LINK in body
        assert "{{" not in body
        assert "{%" not in body
    assert "{{" not in mail.subject
    assert mail.html.lstrip().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_with_only_the_required_context(template: str, locale: str) -> None:
    context = {"case_ref": CASE, "task_label": "T", "institution_name": "I", "link": LINK}

    mail = render(template, locale, context, 1, ["coat@co.example.org"])

    assert CASE in mail.text
    assert CASE in mail.html
    assert LINK in mail.text


def test_every_email_carries_the_no_personal_data_footer() -> None:
    footers = {
        "es": "este correo no incluye datos personales",
        "pt": "este e-mail não inclui dados pessoais",
        "en": "this email contains no personal data",
    }
    for locale, footer in footers.items():
        for template in TEMPLATES:
            mail = rendered(template, locale)
            assert footer in mail.text
            assert footer in mail.html


def test_due_time_is_shown_where_it_matters_in_the_recipients_timezone() -> None:
    assigned = rendered("task_assigned", "es")
    cancelled = rendered("task_cancelled", "es")

    assert "lunes, 2 de marzo de 2026, 14:00 (America/Bogota)" in assigned.text
    assert "lunes, 2 de marzo" not in cancelled.text


def test_dates_are_formatted_per_locale() -> None:
    due = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)

    formatted = {locale: format_due(due, "America/Bogota", locale) for locale in LOCALES}

    assert formatted["es"] == "lunes, 2 de marzo de 2026, 14:00 (America/Bogota)"
    assert formatted["pt"].startswith("segunda-feira, 2 de março de 2026")
    assert formatted["en"].startswith("Monday, March 2, 2026")
    assert len(set(formatted.values())) == 3
    assert format_due(due, "America/Lima", "es").endswith("14:00 (America/Lima)")
    assert format_due(due, "America/Sao_Paulo", "pt").endswith("16:00 (America/Sao_Paulo)")


def test_html_is_autoescaped_and_text_is_not() -> None:
    mail = rendered(task_label="<script>alert(1)</script>")

    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<script>alert(1)</script>" in mail.text


def test_reason_codes_are_translated_and_unknown_ones_fall_back_to_the_code() -> None:
    assert "Motivo: sin capacidad disponible." in rendered("task_rejected", "es").text
    assert "Motivo: sem capacidade disponível." in rendered("task_rejected", "pt").text
    assert "Reason: no capacity available." in rendered("task_rejected", "en").text
    assert (
        "Motivo: brand_new_code." in rendered("task_rejected", "es", reason="brand_new_code").text
    )
    for code in REASON_CODES:
        assert all(reason_label(code, locale) != code for locale in LOCALES)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_reason_code_has_a_translation_in_every_catalogue(locale: str) -> None:
    with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=locale)
    untranslated = []
    for code in REASON_CODES:
        message_id = reason_message_id(code)
        assert message_id, code
        entry = catalog.get(message_id)
        if entry is None or not entry.string or entry.fuzzy:
            untranslated.append(code)
    assert not untranslated, f"untranslated in {locale} (run `make i18n`): {untranslated}"


def test_the_reason_message_ids_are_what_make_i18n_extracts() -> None:
    found = extract_from_dir(
        str(CATALOGUES.parent), method_map=[("**.py", "python")], keywords={"N_": None}
    )
    extracted = {message for _file, _line, message, _comments, _context in found}

    assert extracted == {reason_message_id(code) for code in REASON_CODES}


@pytest.mark.parametrize(
    ("code", "locale", "label"),
    [
        ("no_capacity", "es", "sin capacidad disponible"),
        ("no_capacity", "pt", "sem capacidade disponível"),
        ("no_capacity", "en", "no capacity available"),
        ("out_of_jurisdiction", "es", "fuera de la jurisdicción de la institución"),
        ("out_of_jurisdiction", "pt", "fora da jurisdição da instituição"),
        ("out_of_jurisdiction", "en", "outside the institution's jurisdiction"),
        ("waiting_for_documents", "es", "a la espera de documentos"),
        ("person_declined", "pt", "a pessoa recusou o serviço"),
        ("case_closed", "es", "caso cerrado"),
        ("case_closed", "pt", "caso encerrado"),
        ("state_left", "en", "the case moved to another step"),
        ("no_capacity", "fr", "no_capacity"),
        ("brand_new_code", "es", "brand_new_code"),
    ],
)
def test_reason_label_reads_the_catalogues(code: str, locale: str, label: str) -> None:
    assert reason_label(code, locale) == label


def test_escalation_level_and_country_appear_when_given() -> None:
    escalated = rendered("task_escalated", "es", level=3)
    handoff = rendered("handoff_requested", "pt", country="ec")

    assert "nivel 3" in escalated.subject
    assert "Equador" in handoff.text
    assert "nivel" not in rendered("task_escalated", "es", level=None).subject


def test_unknown_template_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown email template 'task_lost'.*task_assigned"):
        rendered("task_lost")


def test_unknown_locale_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown email locale 'fr'; allowed: es, pt, en"):
        rendered(locale="fr")


def test_personal_data_keys_are_refused() -> None:
    with pytest.raises(ValueError, match=r"outside the allowed set: document_number, person_name"):
        rendered(person_name="Ana Synthetic", document_number="X-0000")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"case_ref": ""}, "missing case_ref"),
        ({"link": "javascript:alert(1)"}, "http"),
        ({"due_at": datetime(2026, 3, 2, 19, 0)}, "aware datetime"),
        ({"timezone": None}, "no timezone"),
        ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
        ({"level": "2"}, "int"),
        ({"task_label": 7}, "task_label must be a string"),
    ],
)
def test_bad_context_values_are_refused(overrides: dict[str, object], message: str) -> None:
    context = full_context(**overrides)
    with pytest.raises(ValueError, match=message):
        render("task_assigned", "es", context, 1, ["coat@co.example.org"])


@pytest.mark.parametrize("to", [[], ["not-an-address"], ["a@co.example.org\r\nBcc: x@y"]])
def test_bad_recipients_are_refused(to: list[str]) -> None:
    with pytest.raises(ValueError, match="recipient"):
        render("task_assigned", "es", full_context(), 1, to)


def test_every_template_file_exists_for_every_locale() -> None:
    expected = {f"{t}.{loc}.txt" for t in TEMPLATES for loc in LOCALES}
    expected |= {f"_base.{loc}.{ext}" for loc in LOCALES for ext in ("txt", "html")}

    assert {p.name for p in TEMPLATE_DIR.iterdir()} == expected


# --- FileEmailSender -------------------------------------------------------------------


def read_eml(path: Path) -> EmailMessage:
    msg = message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_file_sender_writes_a_parseable_multipart_eml(tmp_path: Path) -> None:
    sender = FileEmailSender(tmp_path / "outbox", "Ruta <ruta@co.example.org>")
    mail = render(
        "task_reminder", "pt", full_context(), 7, ["a@co.example.org", "b@co.example.org"]
    )

    result = sender.send(mail, NOW)

    assert result == Sent(provider_id="7.eml")
    msg = read_eml(tmp_path / "outbox" / "7.eml")
    assert msg["From"] == "Ruta <ruta@co.example.org>"
    assert msg["To"] == "a@co.example.org, b@co.example.org"
    assert msg["Subject"] == mail.subject
    assert msg["X-Ruta-Outbox-Id"] == "7"
    assert msg["Message-ID"] == "<ruta-outbox-7@co.example.org>"
    assert msg["Date"].datetime == NOW
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content() == mail.text
    assert html.get_content() == mail.html


def test_file_sender_resending_overwrites_the_same_file(tmp_path: Path) -> None:
    sender = FileEmailSender(tmp_path, "ruta@co.example.org")
    first = rendered("task_reminder")
    second = rendered("task_overdue")

    sender.send(first, NOW)
    sender.send(second, NOW + timedelta(minutes=1))

    assert [p.name for p in tmp_path.iterdir()] == ["41.eml"]
    assert read_eml(tmp_path / "41.eml")["Subject"] == second.subject


def test_file_sender_reports_an_unwritable_directory_as_retry_later(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    sender = FileEmailSender(blocker / "outbox", "ruta@co.example.org")

    result = sender.send(rendered(), NOW)

    assert isinstance(result, RetryLater)
    assert "41.eml" in result.reason


# --- InMemoryEmailSender ---------------------------------------------------------------


def test_in_memory_sender_plays_its_script_then_accepts() -> None:
    later = RetryLater("SendGrid 500: boom")
    sender = InMemoryEmailSender([later])
    sender.script(Permanent("SendGrid 400: bad"))
    mail = rendered()

    results = [sender.send(mail, NOW) for _ in range(3)]

    assert results == [later, Permanent("SendGrid 400: bad"), Sent(provider_id="memory-41")]
    assert sender.sent == [mail]
    assert len(sender.attempts) == 3


def test_in_memory_sender_can_answer_per_message() -> None:
    sender = InMemoryEmailSender(
        respond=lambda m: Permanent("no") if m.outbox_id % 2 else Sent(provider_id=None)
    )
    odd = render("task_assigned", "en", full_context(), 1, ["a@co.example.org"])
    even = render("task_assigned", "en", full_context(), 2, ["a@co.example.org"])

    assert sender.send(odd, NOW) == Permanent("no")
    assert sender.send(even, NOW) == Sent(provider_id=None)
    assert sender.sent == [even]


# --- backoff ---------------------------------------------------------------------------


class _Highest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


class _Lowest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def test_backoff_ceiling_doubles_until_the_cap() -> None:
    delays = [(backoff(n, NOW, rng=_Highest()) - NOW).total_seconds() for n in range(10)]

    assert delays[:5] == [30, 60, 120, 240, 480]
    assert delays[-1] == 3600
    assert delays == sorted(delays)


def test_backoff_is_jittered_within_bounds_and_at_least_one_second() -> None:
    rng = random.Random(4)
    for attempts in (0, 1, 5, 12, 500):
        for _ in range(200):
            delay = (backoff(attempts, NOW, rng=rng) - NOW).total_seconds()
            assert 1.0 <= delay <= min(3600.0, 30.0 * 2**attempts)
    assert backoff(0, NOW, rng=_Lowest()) == NOW + timedelta(seconds=1)


def test_backoff_spreads_retries_and_grows_on_average() -> None:
    rng = random.Random(7)
    samples = {n: [backoff(n, NOW, rng=rng) for _ in range(300)] for n in (0, 3, 6)}

    means = [sum((t - NOW).total_seconds() for t in s) / len(s) for s in samples.values()]
    assert means[0] < means[1] < means[2]
    assert len(set(samples[6])) > 250


def test_backoff_refuses_negative_attempts() -> None:
    with pytest.raises(ValueError, match="attempts"):
        backoff(-1, NOW)
